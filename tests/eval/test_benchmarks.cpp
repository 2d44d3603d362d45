// Benchmarks: reading JSONL (bad lines skipped, each named by file and line), the scores worked
// out by hand (accuracy per category; MME's acc and acc+), lmms-eval imports, and the model's
// choice against scoring each candidate on its own.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/eval/evaluate.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "temp_dir.hpp"

namespace acsweep::eval {
namespace {

class Benchmarks : public acsweep::testing::TempDirTest {
 protected:
  // The tiny world's LLM and tokenizer, its dino encoder, and a projector drawn from seed 5.
  struct Model {
    models::LlamaForCausalLM llm;
    models::Tokenizer tokenizer;
    models::VisionRepresentation representation;
    models::Projector projector;
  };
  void make_world() {
    ASSERT_EQ(
        std::system(
            (ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/fixtures/tiny_world.py " + path("w") + " 6").c_str()),
        0);
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(path("w/encoders/dino")));
    models::VisionRepresentation representation(std::move(members));
    auto llm = models::load_llama(path("w/llm"));
    torch::manual_seed(5);
    models::Projector projector(representation.channels(), llm->config().hidden_size);
    world_.reset(new Model{llm, models::Tokenizer(path("w/llm/tokenizer.model")), std::move(representation),
                           projector});
  }
  std::unique_ptr<Model> world_;

  // Greedy decoding through the full forward pass, no cache: the text of at most `max` new tokens
  // after the embeddings `sequence` [T, D], up to the EOS.
  std::string greedy_by_hand(torch::Tensor sequence, std::size_t max) {
    auto& [llm, tokenizer, representation, projector] = *world_;
    std::vector<std::int64_t> tokens;
    while (tokens.size() < max) {
      const auto next = llm->forward(sequence.unsqueeze(0))[0][-1].argmax().item<std::int64_t>();
      if (next == tokenizer.eos_id()) break;
      tokens.push_back(next);
      sequence = torch::cat({sequence, llm->embed(torch::tensor({next}, torch::kInt64))});
    }
    return tokenizer.decode(tokens);
  }
};

TEST_F(Benchmarks, BadLinesAreSkippedAndNamed) {
  write("a.jpg", "x");
  const auto file =
      write("mc.jsonl", R"({"id": 1, "image": "a.jpg", "question": "Q?", "options": ["x", "y"], "answer": "B"}
{"id": 2, "image": "a.jpg", "question": "Q?", "answer": "A"}
{"id": 3, "image": "a.jpg", "question": "Q?", "options": {"A": "x", "B": "y", "C": "z"}, "answer": "D"}
{"id": 4, "image": "b.jpg", "question": "Q?", "options": ["x", "y"], "answer": "A"}
{"id": 5, "image": "../a.jpg", "question": "Q?", "options": ["x", "y"], "answer": "A"}
not json

{"id": 6, "image": "a.jpg", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "A", "category": "c"}
)");
  const auto b = read_benchmark(file, dir_.string(), BenchmarkKind::multiple_choice, "mc");
  ASSERT_EQ(b.items.size(), 2u);
  EXPECT_EQ(b.items[0].answer, 1u);
  EXPECT_EQ(b.items[1].options, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b.items[1].category, "c");
  ASSERT_EQ(b.skipped.size(), 5u);
  EXPECT_EQ(b.skipped[0], file + ": line 2: no 'options'");
  EXPECT_EQ(b.skipped[1], file + ": line 3: answer 'D' is not one of the option letters");
  EXPECT_NE(b.skipped[2].find("line 4: image " + path("b.jpg") + " is missing"), std::string::npos);
  EXPECT_NE(b.skipped[3].find("line 5: image: image path '../a.jpg' leaves the image folder"),
            std::string::npos)
      << b.skipped[3];
  EXPECT_NE(b.skipped[4].find("line 6: "), std::string::npos);
  EXPECT_THROW(read_benchmark(write("empty.jsonl", "\n"), dir_.string(), BenchmarkKind::yes_no, "e"),
               InputError);
  EXPECT_THROW(read_benchmark(path("none.jsonl"), dir_.string(), BenchmarkKind::yes_no, "e"), InputError);
}

TEST(BenchmarkScores, MultipleChoiceAccuracyByHand) {
  Benchmark b{"mc", BenchmarkKind::multiple_choice, VqaDataset::none, {}, {}};
  for (const auto& [category, answer] :
       std::vector<std::pair<std::string, std::size_t>>{{"x", 0}, {"x", 1}, {"x", 2}, {"y", 0}})
    b.items.push_back({"", "img", "q", category, {"a", "b", "c"}, answer, {}});
  const auto s = score_choices(b, {0, 1, 0, 1});  // x: 2 of 3 right, y: 0 of 1
  EXPECT_DOUBLE_EQ(s.score, 50.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("x"), 200.0 / 3);
  EXPECT_DOUBLE_EQ(s.per_category.at("y"), 0.0);
  EXPECT_EQ(s.correct, (std::vector<double>{1, 1, 0, 0}));
  EXPECT_EQ(question_prompt(b, b.items[0]),
            "q\nA. a\nB. b\nC. c\nAnswer with the option's letter from the given choices directly.");
}

// An item whose image did not decode is not asked: it counts nowhere, and is NaN in `correct`.
TEST(BenchmarkScores, ItemsNotAskedCountNowhere) {
  Benchmark b{"mc", BenchmarkKind::multiple_choice, VqaDataset::none, {}, {}};
  for (const auto& [category, answer] :
       std::vector<std::pair<std::string, std::size_t>>{{"x", 0}, {"x", 1}, {"x", 2}, {"y", 0}})
    b.items.push_back({"", "img", "q", category, {"a", "b", "c"}, answer, {}});
  const auto s = score_choices(b, {0, kNotAsked, 0, 1});  // x: 1 of 2 asked right, y: 0 of 1
  EXPECT_DOUBLE_EQ(s.score, 100.0 / 3);
  EXPECT_DOUBLE_EQ(s.per_category.at("x"), 50.0);
  EXPECT_EQ(s.left_out, 1u);
  EXPECT_EQ(s.correct[0], 1.0);
  EXPECT_TRUE(std::isnan(s.correct[1]));
  EXPECT_THROW(score_choices(b, std::vector<std::size_t>(4, kNotAsked)), InputError);
}

TEST(BenchmarkScores, MmeAccAndAccPlusByHand) {
  // Category "count": two images, two questions each; image 1 both right, image 2 one right.
  // acc = 3/4 = 75, acc+ = 1/2 = 50 -> 125. Category "color": one image, both wrong -> 0 + 0.
  Benchmark b{"mme", BenchmarkKind::yes_no, VqaDataset::none, {}, {}};
  b.items = {{"", "1", "q", "count", {}, 0, {}}, {"", "1", "q", "count", {}, 1, {}},
             {"", "2", "q", "count", {}, 0, {}}, {"", "2", "q", "count", {}, 1, {}},
             {"", "3", "q", "color", {}, 0, {}}, {"", "3", "q", "color", {}, 1, {}}};
  const auto s = score_choices(b, {0, 1, 0, 0, 1, 0});
  EXPECT_DOUBLE_EQ(s.per_category.at("count"), 125.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("color"), 0.0);
  EXPECT_DOUBLE_EQ(s.score, 125.0);
  EXPECT_EQ(candidate_answers(b, b.items[0]), (std::vector<std::string>{"Yes", "No"}));
}

TEST_F(Benchmarks, LmmsEvalResultsImported) {
  const auto file =
      write("r.json", R"({"results": {"mme": {"mme_cognition_score,none": 300.5, "alias": "mme"},
    "mmbench_en_dev": {"gpt_eval_score,none": 64.3}}, "config": {"model": "llava"}})");
  const auto r = read_lmms_eval(file);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r.at("mme/mme_cognition_score,none"), 300.5);
  EXPECT_DOUBLE_EQ(r.at("mmbench_en_dev/gpt_eval_score,none"), 64.3);
  EXPECT_THROW(read_lmms_eval(write("bad.json", R"({"accuracy": 1})")), InputError);
}

// The choice is each candidate's likelihood scored alone; a prompt longer than the context is left
// out and named.
TEST_F(Benchmarks, ChoiceIsTheLikeliestCandidateScoredAlone) {
  ASSERT_NO_FATAL_FAILURE(make_world());
  auto& [llm, tokenizer, representation, projector] = *world_;
  Benchmark b{"mc", BenchmarkKind::multiple_choice, VqaDataset::none, {}, {}};
  for (int i = 0; i < 6; ++i)
    b.items.push_back({std::to_string(i),
                       path("w/images/00" + std::to_string(i) + ".jpg"),
                       "what shape is it",
                       "all",
                       {"a square", "a disc", "a red thing"},
                       0,
                       {}});
  const auto chosen = choose_answers(b, llm, projector, representation, tokenizer);
  // A question longer than the context is left out and named, not fatal.
  auto with_long = b;
  std::string rambling;
  for (int i = 0; i < 2000; ++i) rambling += "and the shape ";
  with_long.items.push_back({"long", path("w/images/000.jpg"), rambling, "all", {"a", "b"}, 0, {}});
  std::vector<std::string> left_out;
  const auto also = choose_answers(with_long, llm, projector, representation, tokenizer, {}, &left_out);
  EXPECT_EQ(std::vector<std::size_t>(also.begin(), also.end() - 1), chosen);
  EXPECT_EQ(also.back(), kNotAsked);
  ASSERT_EQ(left_out.size(), 1u);
  EXPECT_NE(left_out[0].find("item long: its prompt of"), std::string::npos) << left_out[0];
  // The images prepared on the loader's threads: the same choices, and a broken image named alike.
  write("broken.jpg", "not a jpeg");
  with_long.items.insert(with_long.items.begin() + 1,
                         {"bad", path("broken.jpg"), "what", "all", {"a", "b"}, 0, {}});
  std::vector<std::string> serial_left_out, threaded_left_out;
  const auto serial =
      choose_answers(with_long, llm, projector, representation, tokenizer, {}, &serial_left_out, 0);
  const auto threaded =
      choose_answers(with_long, llm, projector, representation, tokenizer, {}, &threaded_left_out, 3);
  EXPECT_EQ(threaded, serial);
  EXPECT_EQ(threaded_left_out, serial_left_out);
  EXPECT_EQ(serial[1], kNotAsked);
  EXPECT_EQ(serial_left_out.size(), 2u);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < b.items.size(); ++i) {
    const auto& item = b.items[i];
    data::LlavaExample example{item.id, item.image, {{"human", "<image>\n" + question_prompt(b, item)}}};
    const auto visual = projector->forward(models::visual_tokens(representation, {item.image}));
    std::vector<double> totals;
    std::vector<models::TokenizedPrompt> prompts;
    for (const auto& answer : candidate_answers(b, item)) {
      auto pieces = data::vicuna_v1_template(example);
      pieces.push_back({data::PromptPiece::Kind::Text, " " + answer, true});
      prompts.push_back(models::tokenize_prompt(tokenizer, pieces));
      std::vector<std::int64_t> counts;
      totals.push_back(
          models::trainable_token_log_probs(llm, {&prompts.back()}, visual, counts).sum().item<double>());
    }
    // The path choose_answers takes: the question once, its cache, each option after it.
    const auto shared = shared_prompt_log_likelihoods(
        llm, models::tokenize_prompt(tokenizer, data::vicuna_v1_template(example)), prompts, visual[0]);
    ASSERT_EQ(shared.size(), totals.size()) << "the options' prompts start with the question's tokens";
    for (std::size_t k = 0; k < totals.size(); ++k)
      EXPECT_NEAR(shared[k], totals[k], 1e-4 * std::abs(totals[k]) + 1e-5);
    EXPECT_EQ(chosen[i],
              static_cast<std::size_t>(std::max_element(totals.begin(), totals.end()) - totals.begin()));
  }
}

// Generated answers: what greedy decoding by hand through the full forward pass gives (no cache,
// no padding), the same in batches of 1 and of 4; an image that does not decode and a prompt
// longer than the context left out, each named.
TEST_F(Benchmarks, GeneratedAnswersAreTheGreedyContinuationOfThePrompt) {
  ASSERT_NO_FATAL_FAILURE(make_world());
  auto& [llm, tokenizer, representation, projector] = *world_;
  write("broken.jpg", "not a jpeg");
  Benchmark b{"vqa", BenchmarkKind::vqa, VqaDataset::textvqa, {}, {}};
  for (int i = 0; i < 5; ++i)
    b.items.push_back({std::to_string(i),
                       path("w/images/00" + std::to_string(i) + ".jpg"),
                       "what shape is it",
                       "all",
                       {},
                       0,
                       {"disc"}});
  b.items.insert(b.items.begin() + 2, {"bad", path("broken.jpg"), "what is it", "all", {}, 0, {"x"}});
  std::string rambling;
  for (int i = 0; i < 2000; ++i) rambling += "and the shape ";
  b.items.push_back({"long", path("w/images/000.jpg"), rambling, "all", {}, 0, {"x"}});
  std::vector<std::string> left_out;
  const auto one = generate_answers(b, llm, projector, representation, tokenizer, {6, 1}, {}, &left_out);
  std::vector<std::string> also_left_out;
  const auto four =
      generate_answers(b, llm, projector, representation, tokenizer, {6, 4}, {}, &also_left_out);
  EXPECT_EQ(one, four);
  std::vector<std::string> threaded_left_out;  // the images prepared on three loader threads
  const auto threaded =
      generate_answers(b, llm, projector, representation, tokenizer, {6, 2, 3}, {}, &threaded_left_out);
  EXPECT_EQ(threaded, one);
  EXPECT_EQ(threaded_left_out, left_out);
  EXPECT_THROW(generate_answers(b, llm, projector, representation, tokenizer, {6, 4}), InputError)
      << "without a list to name it in, an image that does not decode is an error";
  ASSERT_EQ(left_out.size(), 2u);
  EXPECT_NE(left_out[0].find("broken.jpg"), std::string::npos) << left_out[0];
  EXPECT_NE(left_out[1].find("item long: its prompt of"), std::string::npos) << left_out[1];
  EXPECT_FALSE(one[2].has_value());
  EXPECT_FALSE(one.back().has_value());
  torch::NoGradGuard no_grad;
  for (const std::size_t i : {0, 3}) {
    const auto& item = b.items[i];
    const data::LlavaExample example{
        item.id, item.image, {{"human", "<image>\n" + question_prompt(b, item)}}};
    const auto prompt = models::tokenize_prompt(tokenizer, data::vicuna_v1_template(example));
    const auto visual = projector->forward(models::visual_tokens(representation, {item.image}))[0];
    ASSERT_TRUE(one[i].has_value());
    EXPECT_EQ(*one[i], greedy_by_hand(models::spliced_embeddings(llm, prompt, visual), 6)) << "item " << i;
  }
}

// lmms-eval asks image_aspect_ratio = original for ScienceQA, SEED-Bench and MMMU: their images are
// not padded to a square even when the job pads (LLaVA's pad), the others' are.
TEST_F(Benchmarks, KindsThatAskTheOriginalAspectAreNotPadded) {
  ASSERT_NO_FATAL_FAILURE(make_world());
  const auto representation = [this](bool pad) {
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(path("w/encoders/dino"), {-2, 0, pad}));
    return models::VisionRepresentation(std::move(members));
  };
  auto padded = representation(true), cropped = representation(false);
  const std::vector<data::Image> images{data::decode_image(path("w/images/000.jpg"))};  // 48 x 40: not square
  using Aspect = models::VisionRepresentation::Aspect;
  const auto original = models::visual_tokens(padded, images, Aspect::original);
  EXPECT_TRUE(original.equal(models::visual_tokens(cropped, images)));
  EXPECT_FALSE(original.equal(models::visual_tokens(padded, images)));
  for (const auto kind : {BenchmarkKind::scienceqa, BenchmarkKind::seedbench, BenchmarkKind::mmmu})
    EXPECT_EQ(image_aspect(kind), Aspect::original);
  for (const auto kind : {BenchmarkKind::mmbench, BenchmarkKind::mme, BenchmarkKind::vqa,
                          BenchmarkKind::multiple_choice, BenchmarkKind::yes_no})
    EXPECT_EQ(image_aspect(kind), Aspect::configured);
}

// MMMU: several images at their places in the prompt (and none), each image's visual tokens where
// its "<image>" is: the greedy continuation of the sequence built by hand, the same in batches of
// 1 and of 3.
TEST_F(Benchmarks, MmmuImagesGoWhereTheQuestionHoldsThem) {
  ASSERT_NO_FATAL_FAILURE(make_world());
  auto& [llm, tokenizer, representation, projector] = *world_;
  Benchmark b{"mmmu", BenchmarkKind::mmmu, VqaDataset::none, {}, {}};
  const std::string a = path("w/images/000.jpg"), c = path("w/images/003.jpg");
  b.items.push_back({"validation_Art_1", a, "is <image 2> like <image 1>", "Art", {"yes", "no"}, 0, {}});
  b.items.back().images = {c, a};
  b.items.push_back({"validation_Math_2", "", "what is two and two", "Math", {}, 0, {"4"}});
  b.items.push_back({"validation_Art_3", c, "the shape in <image 1>", "Art", {}, 0, {"disc"}});
  b.items.back().images = {c};
  const auto one = generate_answers(b, llm, projector, representation, tokenizer, {5, 1});
  const auto three = generate_answers(b, llm, projector, representation, tokenizer, {5, 3});
  EXPECT_EQ(one, three);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < b.items.size(); ++i) {
    const auto& item = b.items[i];
    const data::LlavaExample example{item.id, item.image, {{"human", question_prompt(b, item)}}};
    const auto prompt = models::tokenize_prompt(tokenizer, data::vicuna_v1_template(example));
    ASSERT_EQ(prompt.image_positions.size(), item.images.size());
    // By hand: the text's embeddings cut at each image's place, that image's tokens put in.
    const auto text = llm->embed(torch::tensor(prompt.ids, torch::kInt64).unsqueeze(0))[0];
    std::vector<torch::Tensor> parts;
    std::int64_t from = 0;
    for (std::size_t k = 0; k < item.images.size(); ++k) {
      const auto at = static_cast<std::int64_t>(prompt.image_positions[k]);
      parts.push_back(text.slice(0, from, at));
      parts.push_back(projector->forward(models::visual_tokens(representation, {item.images[k]}))[0]);
      from = at;
    }
    parts.push_back(text.slice(0, from));
    ASSERT_TRUE(one[i].has_value());
    EXPECT_EQ(*one[i], greedy_by_hand(torch::cat(parts), 5)) << "item " << i;
  }
}

}  // namespace
}  // namespace acsweep::eval

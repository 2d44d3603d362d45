// Stage-1 projector training and the A score on a tiny world written in the real formats
// (tests/fixtures/tiny_world.py): the loss falls, the held-out A score rises over the untrained
// projector's, the same seeds give the same weights, and splitting the global batch into other
// micro-batches gives the same steps (the loss is token-weighted over the global batch); bf16
// autocast stays within its precision of float32 and leaves no trace. The schedule against
// transformers' formula worked by hand.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/scores/alignment.hpp"
#include "acsweep/train/prompt_batches.hpp"
#include "acsweep/train/reducer.hpp"
#include "acsweep/train/schedule.hpp"
#include "acsweep/train/stage1.hpp"
#include "acsweep/train/stage2.hpp"
#include "temp_dir.hpp"

namespace acsweep::train {
namespace {

class Stage1 : public acsweep::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const std::string command =
        ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/fixtures/tiny_world.py " + dir_.string() + " 3";
    ASSERT_EQ(std::system(command.c_str()), 0);
    llm_ = models::load_llama(path("llm"));
    freeze(*llm_);
    tokenizer_ = std::make_unique<models::Tokenizer>(path("llm/tokenizer.model"));
    const auto captions =
        models::plain_captions(*tokenizer_, data::read_llava_json(path("captions.json"), path("images")));
    train_.assign(captions.begin(), captions.end() - 8);
    heldout_.assign(captions.end() - 8, captions.end());
  }
  models::VisionRepresentation representation() {
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(path("encoders/clip")));
    return models::VisionRepresentation(std::move(members));
  }
  Stage1Options options(std::int64_t micro_batch) const {
    Stage1Options o;
    o.learning_rate = 3e-3;
    o.global_batch = 8;
    o.micro_batch = micro_batch;
    o.epochs = 3;
    o.warmup_ratio = 0.1;
    o.data_seed = 11;
    o.init_seed = 12;
    return o;
  }

  models::LlamaForCausalLM llm_{nullptr};
  std::unique_ptr<models::Tokenizer> tokenizer_;
  std::vector<models::ImagePrompt> train_, heldout_;
};

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

// A prompt's negative log-likelihood over its trainable tokens, and their count, by one forward
// pass of its own sequence with its own image's visual tokens spliced in by hand: the reference
// for Stage 2's loss.
std::pair<double, double> nll_by_hand(models::LlamaForCausalLM& llm, models::VisionRepresentation& rep,
                                      models::Projector& projector, const models::ImagePrompt& item) {
  torch::NoGradGuard no_grad;
  const auto& p = item.prompt;
  const bool shown = !p.image_positions.empty();
  const auto L = shown ? rep.visual_token_count() : 0;
  const auto text = llm->embed(torch::tensor(p.ids, torch::kInt64).unsqueeze(0))[0];
  auto sequence = text;
  if (shown) {
    const auto at = static_cast<std::int64_t>(p.image_positions[0]);
    const auto visual =
        projector->forward(models::visual_tokens(rep, std::vector<std::string>{item.image}))[0];
    sequence = torch::cat({text.slice(0, 0, at), visual, text.slice(0, at)});
  }
  const auto log_probs = torch::log_softmax(llm->forward(sequence.unsqueeze(0))[0], -1);
  double nll = 0, tokens = 0;
  for (std::size_t i = 0; i < p.ids.size(); ++i) {
    if (!p.trainable[i]) continue;
    const auto position = static_cast<std::int64_t>(i) + (shown && i >= p.image_positions[0] ? L : 0);
    nll -= log_probs[position - 1][p.ids[i]].item<double>();
    tokens += 1;
  }
  return {nll, tokens};
}

TEST_F(Stage1, LossFallsAndHeldOutAlignmentRises) {
  auto rep = representation();
  std::vector<Stage1Progress> seen;
  const auto result =
      train_projector(llm_, rep, train_, options(4), [&](const Stage1Progress& p) { seen.push_back(p); });
  ASSERT_EQ(result.step_loss.size(), 15u);  // 40 captions in steps of 8, three epochs
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen.back().step, 15);
  EXPECT_EQ(result.examples, 40u);
  const double first = (result.step_loss[0] + result.step_loss[1]) / 2;
  const double last = (result.step_loss[13] + result.step_loss[14]) / 2;
  EXPECT_LT(last, first - 0.3) << "Stage 1 did not learn";

  torch::manual_seed(12);
  models::Projector untrained(rep.channels(), llm_->config().hidden_size);
  auto trained = result.projector;
  const auto before = scores::score_alignment(llm_, rep, untrained, heldout_, 3);
  const auto after = scores::score_alignment(llm_, rep, trained, heldout_, 3);
  ASSERT_EQ(after.size(), 8u);
  EXPECT_GT(mean(after), mean(before) + 0.3);
  // Batched scoring equals one caption at a time.
  const auto one_by_one = scores::score_alignment(llm_, rep, trained, heldout_, 1);
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(after[i], one_by_one[i], 1e-5);
}

TEST_F(Stage1, SameSeedsSameWeightsAndMicroBatchesDoNotMatter) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto a = train_projector(llm_, rep, train_, o);
  const auto b = train_projector(llm_, rep, train_, o);
  auto one_at_a_time = options(1);
  one_at_a_time.epochs = 1;
  const auto c = train_projector(llm_, rep, train_, one_at_a_time);
  auto pa = a.projector->parameters(), pb = b.projector->parameters(), pc = c.projector->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i]));
    EXPECT_TRUE(torch::allclose(pa[i], pc[i], 1e-5, 1e-6));
  }
  for (std::size_t s = 0; s < a.step_loss.size(); ++s) EXPECT_NEAR(a.step_loss[s], c.step_loss[s], 1e-5);
  auto other = o;
  other.data_seed = 99;
  const auto d = train_projector(llm_, rep, train_, other);
  EXPECT_NE(a.step_loss[0], d.step_loss[0]) << "the data order comes from the seed";
}

TEST_F(Stage1, Bf16AutocastFollowsFloat32WithinItsPrecision) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto fp32 = train_projector(llm_, rep, train_, o);
  o.bf16 = true;
  const auto bf16 = train_projector(llm_, rep, train_, o);
  // The matrix products ran in bfloat16 (8 significant bits): the curve moves, within a few percent.
  EXPECT_NE(bf16.step_loss, fp32.step_loss) << "autocast changed nothing";
  ASSERT_EQ(bf16.step_loss.size(), fp32.step_loss.size());
  for (std::size_t s = 0; s < fp32.step_loss.size(); ++s)
    EXPECT_NEAR(bf16.step_loss[s], fp32.step_loss[s], 3e-2 * std::abs(fp32.step_loss[s])) << "step " << s;
  // The weights stay float32, and autocast ends with its scope: float32 again after it.
  for (const auto& p : bf16.projector->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  o.bf16 = false;
  EXPECT_EQ(train_projector(llm_, rep, train_, o).step_loss, fp32.step_loss);
}

TEST_F(Stage1, ActivationCheckpointingTrainsTheSameProjector) {
  // The frozen LLM's layers recomputed in the backward: the same projector gradients, so the same
  // curve and weights up to float rounding; and the LLM is its plain self again afterwards.
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto plain = train_projector(llm_, rep, train_, o);
  o.activation_checkpointing = true;
  bool recomputing = true;  // at every step, the layers run through the checkpointing wrapper
  const auto checkpointed = train_projector(llm_, rep, train_, o, [&](const Stage1Progress&) {
    recomputing = recomputing && static_cast<bool>(llm_->layer_call());
  });
  EXPECT_TRUE(recomputing);
  ASSERT_EQ(checkpointed.step_loss.size(), plain.step_loss.size());
  for (std::size_t s = 0; s < plain.step_loss.size(); ++s)
    EXPECT_NEAR(checkpointed.step_loss[s], plain.step_loss[s], 1e-5 * std::abs(plain.step_loss[s]))
        << "step " << s;
  auto pa = plain.projector->parameters(), pb = checkpointed.projector->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6));
  EXPECT_FALSE(static_cast<bool>(llm_->layer_call()));
}

TEST_F(Stage1, MaxLengthCutsLongerCaptionsAndCountsThem) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  EXPECT_EQ(train_projector(llm_, rep, train_, o).skipped_too_long, 0u);
  std::vector<std::size_t> lengths;  // with the visual tokens
  for (const auto& caption : train_)
    lengths.push_back(
        models::spliced_length(caption.prompt, static_cast<std::size_t>(rep.visual_token_count())));
  const std::size_t longest = *std::max_element(lengths.begin(), lengths.end());
  o.max_length = static_cast<std::int64_t>(longest) - 1;
  const auto longer = static_cast<std::size_t>(
      std::count_if(lengths.begin(), lengths.end(), [&](std::size_t n) { return n > longest - 1; }));
  const auto cut = train_projector(llm_, rep, train_, o);
  EXPECT_GE(longer, 1u);
  EXPECT_EQ(cut.truncated, longer);  // cut by one token: each keeps its image and most of its caption
  EXPECT_EQ(cut.skipped_too_long, 0u);
  EXPECT_EQ(cut.examples, train_.size());
}

// LLaVA's handling of its instruction data in Stage 2: "<image>" first in its turn, text-only
// conversations trained (no visual tokens), an item showing two images left out. The first step's
// loss (learning rate 0) is the token-mean NLL of both items worked out one by one through the
// LLM's own forward pass, so the text-only one counts in it.
// The data loader prepares the images on background threads; 0, 1 and 4 of them train the same
// projector bit for bit, bad images included, in both stages.
TEST_F(Stage1, LoaderThreadsGiveTheSameStepsBitForBit) {
  auto rep = representation();
  auto o = options(2);
  o.epochs = 2;
  auto damaged = train_;
  damaged[3].image = write("broken.jpg", "\xff\xd8\xff\xe0 the rest of this JPEG is lost");
  std::vector<Stage1Result> stage1;
  for (const std::size_t threads : {0u, 1u, 4u}) {
    o.loader_threads = threads;
    stage1.push_back(train_projector(llm_, rep, damaged, o));
  }
  for (std::size_t t = 1; t < stage1.size(); ++t) {
    EXPECT_EQ(stage1[t].step_loss, stage1[0].step_loss) << t;
    EXPECT_EQ(stage1[t].left_out, stage1[0].left_out) << t;
    const auto want = stage1[0].projector->parameters(), got = stage1[t].projector->parameters();
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(torch::equal(got[i], want[i])) << t;
  }
  ASSERT_EQ(stage1[0].left_out.size(), 1u);
  // The A score's loader likewise, a damaged held-out image included.
  auto heldout = heldout_;
  heldout[2].image = damaged[3].image;
  std::vector<std::string> bad_serial, bad_threaded;
  const auto a_serial = scores::score_alignment(llm_, rep, stage1[0].projector, heldout, 3, &bad_serial, 0);
  const auto a_threaded =
      scores::score_alignment(llm_, rep, stage1[0].projector, heldout, 3, &bad_threaded, 2);
  ASSERT_EQ(a_serial.size(), heldout.size());
  for (std::size_t i = 0; i < heldout.size(); ++i)
    EXPECT_TRUE(a_serial[i] == a_threaded[i] || (std::isnan(a_serial[i]) && std::isnan(a_threaded[i]))) << i;
  EXPECT_TRUE(std::isnan(a_serial[2]));
  EXPECT_EQ(bad_serial, bad_threaded);
  EXPECT_THROW(scores::score_alignment(llm_, rep, stage1[0].projector, heldout, 3, nullptr, 2), InputError);
  EXPECT_GE(stage1[2].loader_wait_seconds, 0.0);
  EXPECT_LE(stage1[2].loader_wait_seconds, stage1[2].seconds);

  std::vector<models::ImagePrompt> conversations;
  for (std::size_t i = 0; i < 12; ++i) {
    data::LlavaExample example{
        "c" + std::to_string(i),
        i % 4 == 1 ? "" : damaged[i].image,
        {{"human", i % 4 == 1 ? "say it" : "<image>\nWhat is it?"}, {"gpt", "a shape"}}};
    conversations.push_back(
        {example.id, example.image, models::tokenize_prompt(*tokenizer_, data::vicuna_v1_template(example))});
  }
  std::vector<Stage2Result> stage2;
  std::vector<std::vector<torch::Tensor>> weights;
  for (const std::size_t threads : {0u, 1u, 4u}) {
    torch::manual_seed(5);
    models::Projector projector(rep.channels(), llm_->config().hidden_size);
    auto llm = models::load_llama(path("llm"));
    Stage2Options s2;
    s2.learning_rate = 1e-3;
    s2.global_batch = 4;
    s2.micro_batch = 2;
    s2.epochs = 2;
    s2.loader_threads = threads;
    SingleRankAllReduce one;
    stage2.push_back(train_stage2(llm, projector, rep, conversations, s2, one, 0));
    weights.push_back(projector->parameters());
  }
  for (std::size_t t = 1; t < stage2.size(); ++t) {
    EXPECT_EQ(stage2[t].step_loss, stage2[0].step_loss) << t;
    EXPECT_EQ(stage2[t].left_out, stage2[0].left_out) << t;
    for (std::size_t i = 0; i < weights[0].size(); ++i)
      EXPECT_TRUE(torch::equal(weights[t][i], weights[0][i])) << t;
  }
  EXPECT_EQ(stage2[0].step_loss.size(), 6u);
  EXPECT_EQ(stage2[0].left_out.size(), 1u);
}

TEST_F(Stage1, Stage2TrainsTextOnlyConversationsAsLlavaDoes) {
  auto rep = representation();
  data::LlavaDataset dataset;
  const std::string image = path("images/000.jpg");
  dataset.examples.push_back({"img", image, {{"human", "What is it?\n<image>"}, {"gpt", "a red square"}}});
  dataset.examples.push_back({"text", "", {{"human", "say the colour"}, {"gpt", "red and blue"}}});
  dataset.examples.push_back(
      {"two", image, {{"human", "<image>"}, {"gpt", "x"}, {"human", "<image>"}, {"gpt", "y"}}});
  std::size_t left_out = 0;
  const auto data = models::chat_conversations(*tokenizer_, dataset, data::ChatTemplate::vicuna_v1, left_out);
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(left_out, 1u);
  EXPECT_EQ(data[0].image, image);
  EXPECT_TRUE(data[1].image.empty() && data[1].prompt.image_positions.empty());
  const auto first = models::tokenize_prompt(
      *tokenizer_,
      data::vicuna_v1_template({"img", image, {{"human", "<image>\nWhat is it?"}, {"gpt", "a red square"}}}));
  EXPECT_EQ(data[0].prompt.ids, first.ids);  // the image moved first, as LLaVA moves it
  EXPECT_EQ(data[0].prompt.image_positions, first.image_positions);

  torch::manual_seed(3);
  models::Projector projector(rep.channels(), llm_->config().hidden_size);
  double nll = 0, tokens = 0;
  for (const auto& item : data) {
    const auto [n, t] = nll_by_hand(llm_, rep, projector, item);
    nll += n;
    tokens += t;
  }
  Stage2Options o;
  o.learning_rate = 0;
  o.global_batch = 2;
  o.micro_batch = 2;
  SingleRankAllReduce one;
  const auto trained = train_stage2(llm_, projector, rep, data, o, one, 0);
  ASSERT_EQ(trained.step_loss.size(), 1u);
  EXPECT_NEAR(trained.step_loss[0], nll / tokens, 1e-5 * nll / tokens);
  EXPECT_TRUE(trained.left_out.empty());  // the text-only item's stand-in image is no bad image
}

// Over several steps each micro-batch's conversations go with their own images: at learning rate
// 0 every step's loss is the token mean, by hand, over the step's conversations in the seeded
// order, each with its own image; on the training thread and with the loader on two threads.
TEST_F(Stage1, Stage2PairsEveryConversationWithItsOwnImageStepByStep) {
  auto rep = representation();
  std::vector<models::ImagePrompt> conversations;
  for (std::size_t i = 0; i < 8; ++i) {
    const data::LlavaExample example{
        "c" + std::to_string(i),
        train_[i].image,
        {{"human", "<image>\nWhat is it?"}, {"gpt", std::string(i + 1, i % 2 ? 'a' : 'e') + " shape"}}};
    conversations.push_back(
        {example.id, example.image, models::tokenize_prompt(*tokenizer_, data::vicuna_v1_template(example))});
  }
  torch::manual_seed(4);
  models::Projector projector(rep.channels(), llm_->config().hidden_size);
  std::vector<std::pair<double, double>> by_hand;
  for (const auto& item : conversations) by_hand.push_back(nll_by_hand(llm_, rep, projector, item));
  Stage2Options o;
  o.learning_rate = 0;
  o.global_batch = 2;
  o.micro_batch = 1;
  o.data_seed = 7;
  const auto order = epoch_order(conversations.size(), o.data_seed, 0);
  for (const std::size_t threads : {0u, 2u}) {
    o.loader_threads = threads;
    SingleRankAllReduce one;
    const auto trained = train_stage2(llm_, projector, rep, conversations, o, one, 0);
    ASSERT_EQ(trained.step_loss.size(), 4u);
    for (std::size_t step = 0; step < 4; ++step) {
      const auto& a = by_hand[order[2 * step]];
      const auto& b = by_hand[order[2 * step + 1]];
      const double want = (a.first + b.first) / (a.second + b.second);
      EXPECT_NEAR(trained.step_loss[step], want, 1e-5 * want)
          << "step " << step << ", " << threads << " threads";
    }
  }
}

// A prompt longer than the context is cut to it, as LLaVA cuts its sequences at
// model_max_length; one whose image or every trainable token would be cut is left out.
TEST_F(Stage1, PromptsLongerThanTheContextAreCutAsLlavaCutsThem) {
  auto rep = representation();
  const auto L = static_cast<std::size_t>(rep.visual_token_count());
  models::ImagePrompt text{"t", "", {{1, 5, 6, 7, 8, 9}, {false, false, true, true, true, true}, {}}};
  models::ImagePrompt shown{"i", "x.jpg", {{1, 5, 6, 7}, {false, false, true, true}, {2}}};
  const std::vector<models::ImagePrompt> prompts{text, shown};
  std::vector<models::ImagePrompt> single;  // outlives what fit_to_context points into
  const auto fit = [&](std::size_t which, std::size_t context) {
    single = {prompts[which]};
    return fit_to_context(single, L, context);
  };
  const auto whole = fit_to_context(prompts, L, 6 + L);
  ASSERT_EQ(whole.usable.size(), 2u);
  EXPECT_EQ(whole.truncated + whole.too_long, 0u);
  EXPECT_EQ(whole.usable[0], &prompts[0]);  // not copied
  auto cut = fit(0, 4);
  ASSERT_EQ(cut.usable.size(), 1u);
  EXPECT_EQ(cut.truncated, 1u);
  EXPECT_EQ(cut.usable[0]->prompt.ids, (std::vector<std::int64_t>{1, 5, 6, 7}));
  EXPECT_EQ(cut.usable[0]->prompt.trainable, (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(fit(0, 2).too_long, 1u);  // no answer token left
  cut = fit(1, 3 + L);
  ASSERT_EQ(cut.usable.size(), 1u);
  EXPECT_EQ(cut.usable[0]->prompt.ids, (std::vector<std::int64_t>{1, 5, 6}));
  EXPECT_EQ(cut.usable[0]->prompt.image_positions, (std::vector<std::size_t>{2}));
  EXPECT_EQ(models::spliced_length(cut.usable[0]->prompt, L), 3 + L);
  EXPECT_EQ(fit(1, 2 + L).too_long, 1u);  // nothing after the image
  EXPECT_EQ(fit(1, L).too_long, 1u);      // the image cannot come whole
}

// A training image that does not decode is left out of the loss and named; past [job]
// max_bad_fraction of the captions the stage fails, saying so, at the step that passes it.
TEST_F(Stage1, BadImagesAreSkippedUntilThereAreTooMany) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  auto damaged = train_;
  const std::string broken = write("broken.jpg", "\xff\xd8\xff\xe0 the rest of this JPEG is lost");
  const std::string empty = write("empty.jpg", "");
  // A PNG whose header claims 100000 x 100000 pixels: refused before anything is allocated.
  const std::string bomb =
      write("bomb.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\x01\x86\xa0\0\x01\x86\xa0"
                                    "\x08\x02\0\0\0\0\0\0\0",
                                    33));
  damaged[5].image = broken;
  damaged[9].image = empty;
  damaged[14].image = bomb;
  o.max_bad_fraction = 3.5 / static_cast<double>(damaged.size());  // three allowed
  const auto trained = train_projector(llm_, rep, damaged, o);
  ASSERT_EQ(trained.left_out.size(), 3u);
  for (const auto& file : {broken, empty, bomb})
    EXPECT_EQ(std::count_if(trained.left_out.begin(), trained.left_out.end(),
                            [&](const std::string& why) { return why.find(file) != std::string::npos; }),
              1)
        << file;
  EXPECT_EQ(std::count_if(trained.left_out.begin(), trained.left_out.end(),
                          [](const std::string& why) {
                            return why.find("100000 x 100000 pixels") != std::string::npos;
                          }),
            1);
  damaged[9].image = train_[9].image;
  damaged[14].image = train_[14].image;
  o.max_bad_fraction = 0.5 / static_cast<double>(damaged.size());  // none
  try {
    train_projector(llm_, rep, damaged, o);
    FAIL() << "a bad image past max_bad_fraction was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "Stage 1: 1 training images do not decode, more than [job] max_bad_fraction"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(broken), std::string::npos) << e.what();
  }
}

TEST(BadImages, AllowanceIsTheFractionOfTheExamplesRoundedDown) {
  const std::set<std::string> none;
  EXPECT_NO_THROW(check_bad_images("Stage 2", 4, 400, 0.01, none));
  EXPECT_THROW(check_bad_images("Stage 2", 5, 400, 0.01, none), InputError);
  EXPECT_NO_THROW(check_bad_images("Stage 2", 3, 399, 0.01, none));  // floor(3.99) = 3
  EXPECT_THROW(check_bad_images("Stage 2", 4, 399, 0.01, none), InputError);
  EXPECT_NO_THROW(check_bad_images("Stage 2", 0, 10, 0.0, none));
  EXPECT_NO_THROW(check_bad_images("Stage 2", 10, 10, 1.0, none));
  EXPECT_NO_THROW(check_bad_images("Stage 2", 29, 100, 0.29, none));  // 0.29 * 100 is 28.999999999999996
  try {
    check_bad_images("Stage 2", 1, 10, 0.0, none);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(named on the ranks that met them)"), std::string::npos)
        << e.what();
  }
}

TEST(Schedule, WarmupThenCosineAsTransformers) {
  EXPECT_EQ(warmup_steps(100, 0.03), 3);
  EXPECT_EQ(warmup_steps(10, 0.03), 1);  // ceil
  EXPECT_DOUBLE_EQ(cosine_with_warmup(0, 100, 3, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(2, 100, 3, 1.0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(3, 100, 3, 1.0), 1.0);
  EXPECT_NEAR(cosine_with_warmup(53, 103, 3, 2.0), 1.0, 1e-12);  // half way through the decay: half the peak
  EXPECT_NEAR(cosine_with_warmup(100, 100, 3, 1.0), 0.0, 1e-12);
}

}  // namespace
}  // namespace acsweep::train

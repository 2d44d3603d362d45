// Open-ended VQA: the EvalAI normalisation rule by rule and VQA accuracy with 0 to 4 matching
// answers, worked out by hand (against lmms-eval's own code: tests/cli/test_score.py); the three
// datasets read from fixtures in their shipped layouts, bad items skipped and named; scoring
// generated texts, and the answer parsed from a generated text.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/eval/vqa.hpp"
#include "temp_dir.hpp"

namespace acsweep::eval {
namespace {
namespace fs = std::filesystem;

TEST(VqaNormalisation, EachRuleAsEvalAI) {
  // 1: lower case, "," and "?" dropped, "'s" split off, tabs and newlines to spaces, trimmed.
  EXPECT_EQ(normalise_vqa_answer("  Red\tCar\n"), "red car");
  EXPECT_EQ(normalise_vqa_answer("1,000?"), "1000");
  EXPECT_EQ(normalise_vqa_answer("the man's hat"), "man 's hat");
  // 2: a mark beside a space is removed; elsewhere it becomes a space.
  EXPECT_EQ(normalise_vqa_answer("e-mail"), "e mail");
  EXPECT_EQ(normalise_vqa_answer("e-mail -"), "email");
  EXPECT_EQ(normalise_vqa_answer("(yes)"), "yes");
  EXPECT_EQ(normalise_vqa_answer("red/blue"), "red blue");
  // 3: periods go unless a digit follows.
  EXPECT_EQ(normalise_vqa_answer("3.5"), "3.5");
  EXPECT_EQ(normalise_vqa_answer("yes."), "yes");
  EXPECT_EQ(normalise_vqa_answer("u.s.a."), "usa");
  EXPECT_EQ(normalise_vqa_answer(std::string(40, '.') + "x"), std::string(8, '.') + "x");  // 32 at most
  // 4: number words, articles, contractions.
  EXPECT_EQ(normalise_vqa_answer("Two Dogs"), "2 dogs");
  EXPECT_EQ(normalise_vqa_answer("none"), "0");
  EXPECT_EQ(normalise_vqa_answer("ten"), "10");
  EXPECT_EQ(normalise_vqa_answer("eleven"), "eleven");
  EXPECT_EQ(normalise_vqa_answer("a dog and an apple on the table"), "dog and apple on table");
  EXPECT_EQ(normalise_vqa_answer("dont"), "don't");
  EXPECT_EQ(normalise_vqa_answer("isnt it"), "isn't it");
  EXPECT_EQ(normalise_vqa_answer(""), "");
}

TEST(VqaAccuracy, TenAnswersWithZeroToFourMatches) {
  // k of ten answers match. Leaving out a matching one leaves k-1, another k: the mean over the
  // ten subsets of min(matches / 3, 1) is (k min((k-1)/3, 1) + (10-k) min(k/3, 1)) / 10.
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0};
  for (int k = 0; k <= 4; ++k) {
    std::vector<std::string> answers(static_cast<std::size_t>(k), "Two");
    answers.resize(10, "three");
    EXPECT_NEAR(vqa_accuracy("2.", answers), expected[k], 1e-12) << k << " matches";
  }
  EXPECT_EQ(vqa_accuracy("x", {}), 0.0);
  EXPECT_NEAR(vqa_accuracy("dog", {"dog", "dog", "cat"}), (1.0 / 3 + 1.0 / 3 + 2.0 / 3) / 3, 1e-12);
}

class VqaDatasets : public acsweep::testing::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    fs::create_directories(fs::path(path(name)).parent_path());
    std::ofstream(path(name)) << text;
    return path(name);
  }
};

TEST_F(VqaDatasets, OkVqaQuestionsWithTheirAnnotationsAndCocoImages) {
  write("val2014/COCO_val2014_000000000042.jpg", "x");
  const auto questions = write("OpenEnded_mscoco_val2014_questions.json", R"({"questions": [
      {"image_id": 42, "question": "What sport is this?", "question_id": 420},
      {"image_id": 7, "question": "Whose image is missing?", "question_id": 70},
      {"image_id": 42, "question": "No annotation?", "question_id": 999}]})");
  write("mscoco_val2014_annotations.json", R"({"annotations": [
      {"question_id": 420, "image_id": 42, "question_type": "sports",
       "answers": [{"answer": "tennis", "raw_answer": "tennis", "answer_confidence": "yes", "answer_id": 1},
                   {"answer": "tenni", "raw_answer": "tennis", "answer_confidence": "yes", "answer_id": 2}]},
      {"question_id": 70, "image_id": 7, "answers": [{"answer": "x"}]}]})");
  const auto b = read_vqa(questions, "okvqa");
  EXPECT_EQ(b.dataset, VqaDataset::okvqa);
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].id, "420");
  EXPECT_EQ(b.items[0].category, "sports");
  EXPECT_EQ(b.items[0].answers, (std::vector<std::string>{"tennis", "tenni"}));
  EXPECT_EQ(b.items[0].image, path("val2014/COCO_val2014_000000000042.jpg"));
  ASSERT_EQ(b.skipped.size(), 2u);
  EXPECT_NE(b.skipped[0].find("COCO_val2014_000000000007.jpg is missing"), std::string::npos) << b.skipped[0];
  EXPECT_NE(b.skipped[1].find("question 999 has no annotation"), std::string::npos) << b.skipped[1];
  EXPECT_EQ(question_prompt(b, b.items[0]),
            "What sport is this?\nWhen the provided information is insufficient, respond with "
            "'Unanswerable'.\nAnswer the question using a single word or phrase.");
  // Without images (rescoring saved predictions): the item with the missing image counts.
  EXPECT_EQ(read_vqa(questions, "okvqa", /*with_images=*/false).items.size(), 2u);
  fs::remove(path("mscoco_val2014_annotations.json"));
  EXPECT_THROW(read_vqa(questions, "okvqa"), InputError);
}

TEST_F(VqaDatasets, TextVqaWithItsTrainImagesFolder) {
  write("train_images/abc.jpg", "x");
  const auto file = write("TextVQA_0.5.1_val.json", R"({"dataset_name": "textvqa", "data": [
      {"question": "what BRAND is this?", "image_id": "abc", "question_id": 34602,
       "answers": ["nous les gosses", "dakota", "dakota"]},
      {"question": "no answers here?", "image_id": "abc", "question_id": 1, "answers": []},
      {"question": "escape?", "image_id": "../abc", "question_id": 2, "answers": ["x"]}]})");
  const auto b = read_benchmark(file, "", BenchmarkKind::vqa, "textvqa");
  EXPECT_EQ(b.dataset, VqaDataset::textvqa);
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].id, "34602");
  EXPECT_EQ(b.items[0].answers.size(), 3u);
  EXPECT_EQ(b.skipped.size(), 2u);
  EXPECT_EQ(question_prompt(b, b.items[0]),  // lmms-eval capitalises the question
            "What brand is this?\nAnswer the question using a single word or phrase.");
}

TEST_F(VqaDatasets, VizWizAnnotationsWithTheValFolderBesideThem) {
  write("val/VizWiz_val_00000000.jpg", "x");
  const auto file = write("Annotations/val.json", R"([
      {"image": "VizWiz_val_00000000.jpg", "question": "What is this?", "answer_type": "other",
       "answerable": 1, "answers": [{"answer": "soda", "answer_confidence": "yes"},
                                     {"answer": "unanswerable", "answer_confidence": "maybe"}]},
      {"image": "VizWiz_val_00000001.jpg", "question": "And this?", "answers": [{"answer": "x"}]},
      {"question": "no image key", "answers": [{"answer": "x"}]}])");
  const auto b = read_vqa(file, "vizwiz");
  EXPECT_EQ(b.dataset, VqaDataset::vizwiz);
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].id, "VizWiz_val_00000000.jpg");
  EXPECT_EQ(b.items[0].category, "other");
  EXPECT_EQ(b.skipped.size(), 2u);
  EXPECT_THROW(read_vqa(write("other.json", R"({"something": 1})"), "x"), InputError);
  EXPECT_THROW(read_vqa(write("broken.json", "[{"), "x"), InputError);
}

TEST(ScoreGenerated, VqaAccuracyPerCategoryAndItemsLeftOut) {
  Benchmark b{"vqa", BenchmarkKind::vqa, VqaDataset::vizwiz, {}, {}};
  b.items.push_back({"1", "a.jpg", "q", "other", {}, 0, {"dog", "dog", "dog", "cat"}});
  b.items.push_back({"2", "b.jpg", "q", "other", {}, 0, {"cat", "cat"}});
  b.items.push_back({"3", "c.jpg", "q", "number", {}, 0, {"2", "2", "2", "2"}});
  b.items.push_back({"4", "d.jpg", "q", "number", {}, 0, {"5"}});
  const auto s =
      score_generated(b, {std::string("Dog."), std::string("bird"), std::string("two"), std::nullopt});
  const double dog = (3 * (2.0 / 3) + 1.0) / 4;  // three subsets keep two "dog", one keeps three
  EXPECT_NEAR(s.correct[0], dog, 1e-12);
  EXPECT_EQ(s.correct[1], 0.0);
  EXPECT_EQ(s.correct[2], 1.0);
  EXPECT_TRUE(std::isnan(s.correct[3]));
  EXPECT_EQ(s.left_out, 1u);
  EXPECT_NEAR(s.score, 100.0 * (dog + 1.0) / 3, 1e-9);
  EXPECT_NEAR(s.per_category.at("other"), 100.0 * dog / 2, 1e-9);
  EXPECT_NEAR(s.per_category.at("number"), 100.0, 1e-9);
}

TEST(ScoreGenerated, LettersAndYesNoParsedFromTheText) {
  Benchmark mc{"mc", BenchmarkKind::multiple_choice, VqaDataset::none, {}, {}};
  mc.items.push_back({"1", "a.jpg", "q", "all", {"red", "green", "blue"}, 1, {}});
  const auto& item = mc.items[0];
  EXPECT_EQ(parsed_answer(mc, item, "B"), 1u);
  EXPECT_EQ(parsed_answer(mc, item, " B. green"), 1u);
  EXPECT_EQ(parsed_answer(mc, item, "C)"), 2u);
  EXPECT_EQ(parsed_answer(mc, item, "Blue"), kNotAnswered);  // a word, not a letter
  EXPECT_EQ(parsed_answer(mc, item, "D"), kNotAnswered);     // not an option
  EXPECT_EQ(parsed_answer(mc, item, ""), kNotAnswered);
  Benchmark yn{"mme", BenchmarkKind::yes_no, VqaDataset::none, {}, {}};
  yn.items.push_back({"1", "a.jpg", "q", "all", {}, 0, {}});
  EXPECT_EQ(parsed_answer(yn, yn.items[0], "Yes."), 0u);
  EXPECT_EQ(parsed_answer(yn, yn.items[0], " no"), 1u);
  EXPECT_EQ(parsed_answer(yn, yn.items[0], "Yes, it is"), 0u);
  EXPECT_EQ(parsed_answer(yn, yn.items[0], "Not at all"), 1u);  // lmms-eval's rule: "no" in "not "
  EXPECT_EQ(parsed_answer(yn, yn.items[0], "Maybe"), kNotAnswered);
  // An unparsed answer is wrong, not left out.
  const auto s = score_generated(mc, {std::string("I think so")});
  EXPECT_EQ(s.correct[0], 0.0);
  EXPECT_EQ(s.left_out, 0u);
  EXPECT_EQ(score_generated(mc, {std::string("B")}).score, 100.0);
}

}  // namespace
}  // namespace acsweep::eval

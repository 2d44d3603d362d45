// MME, SEED-Bench and ScienceQA read from fixtures in their shipped layouts (bad items skipped and
// named), their lmms-eval prompts, answers parsed by each one's rule, and MME scored with
// perception and cognition apart. Against lmms-eval's own code: tests/cli/test_score.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "temp_dir.hpp"

namespace acsweep::eval {
namespace {
namespace fs = std::filesystem;

class PaperDatasets : public acsweep::testing::TempDirTest {};

TEST_F(PaperDatasets, MmeInBothOfItsLayouts) {
  // A perception category with its question files beside the images...
  write("MME/existence/000000006040.jpg", "x");
  write("MME/existence/000000006040.txt",
        "Is there a train in this image? Please answer yes or no.\tYes\r\n"
        "Is there a bed in this image? Please answer yes or no.\tNo\r\n");
  write("MME/existence/broken.txt", "no tab here\n");
  // ...and one in questions_answers_YN/ with the images in images/ (a png).
  write("MME/artwork/images/10002.png", "x");
  write("MME/artwork/questions_answers_YN/10002.txt",
        "Is this artwork by Leonardo? Please answer yes or no.\tNo\n");
  write("MME/artwork/questions_answers_YN/10003.txt", "Whose image is missing?\tYes\n");
  // A cognition category.
  write("MME/code_reasoning/0001.png", "x");
  write("MME/code_reasoning/0001.txt", "Is the output 5?\tYes\nIs the output 6?\tMaybe\n");
  const auto b = read_benchmark(path("MME"), "", BenchmarkKind::mme, "mme");
  ASSERT_EQ(b.items.size(), 4u);
  EXPECT_EQ(b.items[0].id, "artwork/10002/1");
  EXPECT_EQ(b.items[0].image, path("MME/artwork/images/10002.png"));
  EXPECT_EQ(b.items[0].answer, 1u);
  EXPECT_EQ(b.items[2].category, "existence");
  EXPECT_EQ(b.items[2].image, path("MME/existence/000000006040.jpg"));
  ASSERT_EQ(b.skipped.size(), 3u);  // the missing image, the answer that is not yes/no, the line with no tab
  EXPECT_NE(b.skipped[0].find("10003.jpg is missing"), std::string::npos) << b.skipped[0];
  EXPECT_EQ(question_prompt(b, b.items[2]),
            "Is there a train in this image?\nAnswer the question using a single word or phrase.");
  // Scored: acc + acc+ per category; perception and cognition apart; MME's score is perception's.
  const auto s =
      score_generated(b, {std::string("No"), std::string("Yes"), std::string("yes"), std::string("no")});
  EXPECT_DOUBLE_EQ(s.per_category.at("artwork"), 200.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("code_reasoning"), 100.0 * 1 / 1 + 100.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("existence"), 100.0 + 100.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("perception"), 400.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("cognition"), 200.0);
  EXPECT_DOUBLE_EQ(s.score, 400.0);
  const auto wrong =
      score_generated(b, {std::string("No"), std::string("Yes"), std::string("yes"), std::string("yes")});
  EXPECT_DOUBLE_EQ(wrong.per_category.at("existence"), 50.0 + 0.0) << "one of two right: acc 50, acc+ 0";
  EXPECT_THROW(read_mme(path("nothing"), "mme"), InputError);
}

TEST_F(PaperDatasets, SeedBenchImageQuestions) {
  write("SEED-Bench-image/1454426_2591111986.jpg", "x");
  const auto file = write("SEED-Bench.json", R"({"questions": [
      {"answer": "B", "choice_a": "one", "choice_b": "two", "choice_c": "three", "choice_d": "four",
       "data_id": "1454426_2591111986.jpg", "data_type": "image", "question": "How many towels?",
       "question_id": "101669", "question_type_id": 5},
      {"answer": "A", "choice_a": "x", "choice_b": "y", "choice_c": "z", "choice_d": "w",
       "data_id": "v.mp4", "data_type": "video", "question": "Q?", "question_id": "2", "question_type_id": 10},
      {"answer": "E", "choice_a": "x", "choice_b": "y", "choice_c": "z", "choice_d": "w",
       "data_id": "1454426_2591111986.jpg", "data_type": "image", "question": "Q?", "question_id": "3"}],
      "question_type": {"Instance Counting": 5, "Action Recognition": 10}})");
  const auto b = read_benchmark(file, "", BenchmarkKind::seedbench, "seed");
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].id, "101669");
  EXPECT_EQ(b.items[0].category, "Instance Counting");
  EXPECT_EQ(b.items[0].answer, 1u);
  ASSERT_EQ(b.skipped.size(), 2u);
  EXPECT_NE(b.skipped[1].find("1 video questions left out"), std::string::npos) << b.skipped[1];
  EXPECT_EQ(
      question_prompt(b, b.items[0]),
      "How many towels?\nA. one\nB. two\nC. three\nD. four\nAnswer with the option's letter from the given "
      "choices directly.");
  const auto& item = b.items[0];
  EXPECT_EQ(parsed_answer(b, item, " B"), 1u);
  EXPECT_EQ(parsed_answer(b, item, "Because two"), 1u) << "lmms-eval takes the first character";
  EXPECT_EQ(parsed_answer(b, item, "two"), kNotAnswered);
}

TEST_F(PaperDatasets, ScienceQaTestProblemsWithAnImage) {
  write("images/test/7/image.png", "x");
  write("pid_splits.json", R"({"test": ["7", "8", "9", "10"], "train": ["1"]})");
  const auto file = write("problems.json", R"({
      "7": {"question": "Which is a mammal?", "choices": ["frog", "cat", "eel"], "answer": 1,
            "hint": "Look at the picture.", "image": "image.png", "subject": "natural science", "split": "test"},
      "8": {"question": "No image?", "choices": ["a", "b"], "answer": 0, "hint": "", "image": null, "split": "test"},
      "9": {"question": "Missing image?", "choices": ["a", "b"], "answer": 0, "hint": "", "image": "image.png"},
      "1": {"question": "Train", "choices": ["a", "b"], "answer": 0, "image": "image.png"}})");
  const auto b = read_benchmark(file, "", BenchmarkKind::scienceqa, "sqa");
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].category, "natural science");
  EXPECT_EQ(b.skipped.size(), 2u);  // 9: its image is missing; 10: not in problems.json
  EXPECT_EQ(
      question_prompt(b, b.items[0]),
      "Context: Look at the picture.\nWhich is a mammal?\nA. frog\nB. cat\nC. eel\nAnswer with the option's "
      "letter from the given choices directly.");
  const auto& item = b.items[0];
  EXPECT_EQ(parsed_answer(b, item, "B"), 1u);
  EXPECT_EQ(parsed_answer(b, item, "B. cat"), 1u);
  EXPECT_EQ(parsed_answer(b, item, " B"), kNotAnswered) << "LLaVA's rule: no trimming";
  EXPECT_EQ(parsed_answer(b, item, "B cat"), kNotAnswered);
  fs::remove(path("pid_splits.json"));
  EXPECT_THROW(read_scienceqa(file, "sqa"), InputError);
}

// A 2x2 PNG, base64 (made with Pillow).
constexpr const char* kPng =
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGPkEpFjYGBgYmBgYGBgAAAC5gBAXKUgWwAAAABJRU5ErkJg"
    "gg==";

TEST_F(PaperDatasets, MmbenchTsvWithCircularCopiesAndEmbeddedImages) {
  const std::string header = "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage\tsource\n";
  const auto file =
      write("mmbench_dev_en.tsv",
            header + "0\tWhich colour?\tLook closely.\tred\tgreen\tnan\tnan\tA\tcolour\t" + kPng +
                "\ts\n"
                "1000000\tWhich colour?\tLook closely.\tgreen\tred\tnan\tnan\tB\tcolour\t0\ts\n"
                "5\t\"A \"\"quoted\"\" question\"\tnan\tone\ttwo\tthree\tnan\tC\tcount\t" +
                kPng +
                "\ts\n"
                "6\tBroken image?\tnan\tx\ty\tnan\tnan\tA\tcount\t!!!!\ts\n"
                "7\tNo answer?\tnan\tx\ty\tnan\tnan\tF\tcount\t" +
                kPng + "\ts\n");
  const auto b = read_benchmark(file, "", BenchmarkKind::mmbench, "mmbench");
  ASSERT_EQ(b.items.size(), 4u);
  ASSERT_EQ(b.skipped.size(), 1u) << b.skipped[0];
  EXPECT_NE(b.skipped[0].find("answer 'F'"), std::string::npos) << b.skipped[0];
  EXPECT_EQ(b.items[1].group, "0") << "a circular copy shares its original's group";
  EXPECT_EQ(b.items[2].question, "A \"quoted\" question");
  EXPECT_EQ(b.items[2].options.size(), 3u);
  EXPECT_EQ(question_prompt(b, b.items[0]),
            "Look closely. Which colour? There are several options:\nA. red\nB. green\n\nAnswer with the "
            "option's letter from the given choices directly.");
  // Images: the original's and its copy's from the same base64 text; a broken one is named.
  std::ifstream in(file);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(b.items[0].image_offset, content.find(kPng));
  EXPECT_EQ(b.items[0].image_length, std::string(kPng).size());
  EXPECT_EQ(b.items[1].image_offset, b.items[0].image_offset);
  const auto image = item_image(b.items[1]);
  EXPECT_EQ(image.width, 2);
  EXPECT_EQ(item_image(b.items[0]).rgb, image.rgb);
  try {
    item_image(b.items[3]);
    FAIL() << "not base64";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row of index 6"), std::string::npos) << e.what();
  }
  // CircularEval: question 0 counts only if both copies are right.
  const auto both = score_choices(b, {0, 1, 2, 1});
  EXPECT_DOUBLE_EQ(both.per_category.at("colour"), 100.0);
  EXPECT_DOUBLE_EQ(both.score, 100.0 * 2 / 3);  // groups 0 and 5 right, 6 wrong
  const auto one = score_choices(b, {0, 0, 2, kNotAsked});
  EXPECT_DOUBLE_EQ(one.per_category.at("colour"), 0.0);
  EXPECT_DOUBLE_EQ(one.score, 100.0 * 1 / 2) << "group 6 left out";
}

// Found by fuzzing: the columns are found in the header line before quotes are read, and a quote
// there put "image" past the end of every row; such a header is refused.
TEST_F(PaperDatasets, MmbenchHeaderThatQuotesReadOtherwiseIsRefused) {
  const auto file = write("quoted_header.tsv", "index\t\"x\tquestion\tA\tB\tanswer\ty\"\timage\n0\tq\t" +
                                                   std::string(kPng) + "\n");
  try {
    read_benchmark(file, "", BenchmarkKind::mmbench, "mmbench");
    FAIL() << "taken";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              file + ": the header line's quotes change its columns; not MMBench's TSV");
  }
}

TEST(MmbenchParse, MmbenchsOwnRules) {
  Benchmark b{"mmbench", BenchmarkKind::mmbench, VqaDataset::none, {}, {}};
  b.items.push_back({"1", "x", "q", "all", {"red apple", "green pear", "blue plum"}, 0, {}});
  const auto& item = b.items[0];
  EXPECT_EQ(parsed_answer(b, item, "B"), 1u);
  EXPECT_EQ(parsed_answer(b, item, "The answer is (C)."), 2u);
  EXPECT_EQ(parsed_answer(b, item, "B."), 1u);
  EXPECT_EQ(parsed_answer(b, item, "It is a green pear"), 1u) << "the option's text";
  EXPECT_EQ(parsed_answer(b, item, "A or B"), kNotAnswered) << "two letters";
  EXPECT_EQ(parsed_answer(b, item, "A red apple it is"), 0u) << "'A' a quantifier: read by the text";
  EXPECT_EQ(parsed_answer(b, item, "E"), kNotAnswered) << "a letter beyond the options is wrong";
  EXPECT_EQ(parsed_answer(b, item, "I don't know"), kNotAnswered);
}

TEST(BenchmarkKinds, NamesAndFamilies) {
  EXPECT_EQ(benchmark_kind("mme"), BenchmarkKind::mme);
  EXPECT_TRUE(is_yes_no(BenchmarkKind::mme) && is_yes_no(BenchmarkKind::yes_no));
  EXPECT_TRUE(is_choice(BenchmarkKind::seedbench) && is_choice(BenchmarkKind::scienceqa));
  EXPECT_FALSE(is_choice(BenchmarkKind::vqa) || is_yes_no(BenchmarkKind::vqa));
  EXPECT_EQ(benchmark_kind("mmmu"), BenchmarkKind::mmmu);
  EXPECT_FALSE(is_choice(BenchmarkKind::mmmu) ||
               is_yes_no(BenchmarkKind::mmmu));  // generated, parsed its way
  EXPECT_THROW(benchmark_kind("mmbench_tsv"), std::invalid_argument);
}

}  // namespace
}  // namespace acsweep::eval

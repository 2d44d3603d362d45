// MMMU: the reader of scripts/convert_parquet.py's JSONL (bad lines skipped and named), the prompt
// with its images in place, and MMMU's parse rules on hand-derived cases. Against lmms-eval's own
// code on a few hundred predictions: tests/cli/test_score.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/eval/mmmu.hpp"
#include "temp_dir.hpp"

namespace acsweep::eval {
namespace {
namespace fs = std::filesystem;

class Mmmu : public acsweep::testing::TempDirTest {};

TEST_F(Mmmu, ReadsTheConvertersLinesWithTheirImagesInPromptOrder) {
  write("mmmu/images/a_1.png", "x");
  write("mmmu/images/a_2.png", "x");
  const std::string file = write(
      "mmmu/mmmu_validation.jsonl",
      // Two images, the second named in an option, the first twice.
      R"({"id": "validation_Art_Theory_3", "question": "Compare <image 1> and <image 1>.", "options": ["<image 2>", "neither"], "answer": "A", "question_type": "multiple-choice", "images": {"image_1": "images/a_1.png", "image_2": "images/a_2.png"}})"
      "\n"
      // Open, with a list of answers, no image.
      R"({"id": "validation_Math_7", "question": "What is 2+2?", "options": [], "answer": ["4", "four"], "question_type": "open", "images": {}})"
      "\n"
      // Skipped: an image it names but does not have; an answer that is not an option; a missing file.
      R"({"id": "validation_Math_8", "question": "See <image 3>", "options": [], "answer": "1", "question_type": "open", "images": {"image_1": "images/a_1.png"}})"
      "\n"
      R"({"id": "validation_Math_9", "question": "Q", "options": ["a", "b"], "answer": "C", "question_type": "multiple-choice", "images": {}})"
      "\n"
      R"({"id": "validation_Math_10", "question": "<image 1>?", "options": [], "answer": "1", "question_type": "open", "images": {"image_1": "images/gone.png"}})"
      "\n"
      "not json\n");
  const auto b = read_benchmark(file, "", BenchmarkKind::mmmu, "mmmu");
  ASSERT_EQ(b.items.size(), 2u);
  const auto& choice = b.items[0];
  EXPECT_EQ(choice.category, "Art_Theory");
  ASSERT_EQ(choice.images.size(), 3u);
  EXPECT_EQ(choice.images[0], path("mmmu/images/a_1.png"));
  EXPECT_EQ(choice.images[1], path("mmmu/images/a_1.png"));
  EXPECT_EQ(choice.images[2], path("mmmu/images/a_2.png"));
  EXPECT_EQ(
      question_prompt(b, choice),
      "Compare <image> and <image>.\nA. <image>\nB. neither\nAnswer with the option letter from the given "
      "choices directly.");
  EXPECT_FALSE(is_open(b, choice));
  const auto& open = b.items[1];
  EXPECT_TRUE(is_open(b, open));
  EXPECT_TRUE(open.images.empty());
  EXPECT_EQ(open.answers, (std::vector<std::string>{"4", "four"}));
  EXPECT_EQ(question_prompt(b, open), "What is 2+2?\nAnswer the question using a single word or phrase.");
  ASSERT_EQ(b.skipped.size(), 4u);
  EXPECT_NE(b.skipped[0].find("<image 3>, which it does not have"), std::string::npos) << b.skipped[0];
  EXPECT_NE(b.skipped[1].find("answer 'C'"), std::string::npos) << b.skipped[1];
  EXPECT_NE(b.skipped[2].find("gone.png is missing"), std::string::npos) << b.skipped[2];
  EXPECT_NE(b.skipped[3].find("line 6"), std::string::npos) << b.skipped[3];
  // Rescoring needs no images.
  EXPECT_EQ(read_benchmark(file, "", BenchmarkKind::mmmu, "mmmu", false).items.size(), 3u);
  // Scored: micro accuracy, per subject and per discipline.
  const auto s = score_generated(b, {std::string("(A)"), std::string("so the answer is four.")});
  EXPECT_DOUBLE_EQ(s.score, 100.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("Overall-Science"), 100.0);
  EXPECT_DOUBLE_EQ(s.per_category.at("Overall-Art and Design"), 100.0);
  const auto wrong = score_generated(b, {std::string("B"), std::string("5")});
  EXPECT_DOUBLE_EQ(wrong.score, 0.0);
  EXPECT_THROW(candidate_answers(b, choice), std::invalid_argument);  // generated only
}

TEST_F(Mmmu, NoUsableLineIsAnErrorNamingTheFile) {
  const std::string file = write("m.jsonl", R"({"id": "x"})"
                                            "\n");
  try {
    read_benchmark(file, "", BenchmarkKind::mmmu, "mmmu");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos);
  }
}

TEST(MmmuParse, MultipleChoiceByMmmusRules) {
  const std::vector<std::string> options{"red apple", "green pear", "blue plum", "cat"};
  EXPECT_EQ(mmmu::parsed_choice("(B)", options, "x"), 1u);
  EXPECT_EQ(mmmu::parsed_choice("B", options, "x"), 1u);           // " B " once padded
  EXPECT_EQ(mmmu::parsed_choice("C.", options, "x"), 2u);          // the '.' stripped first
  EXPECT_EQ(mmmu::parsed_choice("'D'", options, "x"), 3u);         // quotes stripped
  EXPECT_EQ(mmmu::parsed_choice("A.x", options, "x"), 0u);         // "A." form, no "X " form
  EXPECT_EQ(mmmu::parsed_choice("A.B", options, "x"), 1u);         // "B " (padded) before "A."
  EXPECT_EQ(mmmu::parsed_choice("(A) or (C)", options, "x"), 2u);  // brackets: the last named
  EXPECT_EQ(mmmu::parsed_choice("C or A", options, "x"), 0u);      // " C " at 0, " A " at 5: the last
  EXPECT_EQ(mmmu::parsed_choice("A or C", options, "x"), 2u);
  // More than five words and no letter form: the options' text, the last named.
  EXPECT_EQ(mmmu::parsed_choice("i think it is the green pear, not the red apple", options, "x"), 0u);
  EXPECT_EQ(mmmu::parsed_choice("i would say that blue plum fits", options, "x"), 2u);
  // Nothing names an option: a draw from the id, the same every time, one of the options.
  const auto drawn = mmmu::parsed_choice("no idea", options, "validation_Art_1");
  EXPECT_LT(drawn, options.size());
  EXPECT_EQ(mmmu::parsed_choice("no idea", options, "validation_Art_1"), drawn);
}

TEST(MmmuParse, OpenAnswersByMmmusRules) {
  // The key part after an indicator, the shortest; its numbers; a one-character string padded.
  auto a = mmmu::parsed_open("The area is 12.345 square metres.");
  EXPECT_EQ(a.texts, (std::vector<std::string>{"12.345 square metres"}));
  EXPECT_EQ(a.numbers, (std::vector<double>{12.35}));  // round(12.345, 2): 12.35 (binary 12.3450000000000006)
  EXPECT_TRUE(mmmu::open_correct(a, {"12.35"}));
  EXPECT_TRUE(mmmu::open_correct(a, {"square"}));  // a gold string inside the prediction
  EXPECT_FALSE(mmmu::open_correct(a, {"12.3"}));
  a = mmmu::parsed_open("x = 1,000");  // "1,000" and, by the plain-number pattern, "000"
  EXPECT_TRUE(a.texts.empty());
  EXPECT_EQ(a.numbers, (std::vector<double>{1000.0, 1000.0, 0.0}));
  EXPECT_TRUE(mmmu::open_correct(a, {"1000"}));
  EXPECT_TRUE(mmmu::open_correct(a, {"0"}));
  a = mmmu::parsed_open("b");
  EXPECT_EQ(a.texts, (std::vector<std::string>{" b", "b "}));
  EXPECT_TRUE(mmmu::open_correct(a, {"B"}));
  // No indicator: the whole response, lower case, stripped of spaces and periods.
  a = mmmu::parsed_open("  Paris.  ");
  EXPECT_EQ(a.texts, (std::vector<std::string>{"paris"}));
  // Per line; "=" only on the last.
  a = mmmu::parsed_open("a = 3\nb = 4");
  EXPECT_TRUE(a.texts.empty());
  EXPECT_EQ(a.numbers, (std::vector<double>{4.0, 4.0}));
  EXPECT_FALSE(mmmu::open_correct(a, {"3"}));
  // The three patterns one after the other, overlapping as MMMU's do.
  EXPECT_EQ(mmmu::numbers_in("-1,234 and 5e-3 and 7.5 and .5"),
            (std::vector<std::string>{"-1,234", "5e-3", "234", "-3", "7.5", ".5"}));
}

TEST(MmmuParse, SubjectsAndDisciplines) {
  EXPECT_EQ(mmmu::subject_of("validation_Art_Theory_12"), "Art_Theory");
  EXPECT_EQ(mmmu::subject_of("dev_Math_1"), "Math");
  EXPECT_EQ(mmmu::subject_of("plain"), "");
  EXPECT_EQ(mmmu::subject_of("validation_Math_x"), "");
  EXPECT_EQ(mmmu::discipline_of("Art_Theory"), "Art and Design");
  EXPECT_EQ(mmmu::discipline_of("Energy_and_Power"), "Tech and Engineering");
  EXPECT_EQ(mmmu::discipline_of("Cooking"), "");
  EXPECT_EQ(mmmu::image_numbers("<image 2> vs <image 1>", {"<image 3>"}), (std::vector<int>{2, 1, 3}));
}

}  // namespace
}  // namespace acsweep::eval

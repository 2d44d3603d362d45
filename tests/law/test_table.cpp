// Reading tables: the paper's layout, quoting, and every kind of bad input named precisely.
#include <gtest/gtest.h>

#include <sstream>

#include "acsweep/error.hpp"
#include "acsweep/law/paper_groups.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::law {
namespace {

LawTable parse(const std::string& text, const std::vector<std::string>& benchmarks = {}) {
  std::istringstream in(text);
  return parse_law_table(in, "t.csv", benchmarks);
}

// The InputError message of parsing `text`, or "" when it parsed.
std::string error_of(const std::string& text, const std::vector<std::string>& benchmarks = {}) {
  try {
    parse(text, benchmarks);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// The paper's groups form from the names a job gives its benchmarks, in any spelling, and only
// when every member is there.
TEST(PaperGroups, FormWhateverTheSpellingOfTheNames) {
  const std::vector<std::string> names{"mmbench", "seed_bench", "ok-vqa", "MME", "textvqa", "vizwiz", "mmmu"};
  const std::vector<double> r2{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3};
  const auto groups = paper_group_r2(names, r2);
  ASSERT_EQ(groups.size(), 1u) << "no ScienceQA: the OCR group does not form";
  EXPECT_EQ(groups[0].name, "vision");
  EXPECT_EQ(groups[0].members, "mmbench, MME, ok-vqa, seed_bench");
  EXPECT_DOUBLE_EQ(groups[0].mean_r2, (0.9 + 0.6 + 0.7 + 0.8) / 4);
  auto all = names;
  all.push_back("ScienceQA");
  auto all_r2 = r2;
  all_r2.push_back(0.2);
  EXPECT_EQ(paper_group_r2(all, all_r2).size(), 2u);
  EXPECT_NEAR(paper_group_r2(all, all_r2)[1].mean_r2, (0.3 + 0.5 + 0.4 + 0.2) / 4, 1e-12);
}

TEST(LawTable, ReadsThePaperLayout) {
  const LawTable t = parse(
      "setting,encoder,resolution,A,C,MMBench,MME\n"
      "CLIP@336,openai/clip,336,-1.97,15.66,64.26,1502.70\r\n"
      "\"CLIP+DINOv2, 224\",\"a \"\"quoted\"\" id\",224,-1.96,23.62,65.72,1436.42\n\n");
  EXPECT_EQ(t.settings, (std::vector<std::string>{"CLIP@336", "CLIP+DINOv2, 224"}));
  EXPECT_EQ(t.benchmark_names, (std::vector<std::string>{"MMBench", "MME"}));
  EXPECT_EQ(t.descriptive_names, (std::vector<std::string>{"encoder", "resolution"}));
  EXPECT_EQ(t.descriptive_values[0][1], "a \"quoted\" id");
  EXPECT_DOUBLE_EQ(t.alignment[1], -1.96);
  EXPECT_DOUBLE_EQ(t.benchmark_scores[1][0], 1502.70);
  EXPECT_EQ(t.benchmark_index("MME"), 1u);
}

TEST(LawTable, ChosenBenchmarksInTheirOrder) {
  const LawTable t = parse("setting,A,C,X,Y,Z\ns1,1,2,3,4,5\ns2,2,3,4,5,7\n", {"Z", "X"});
  EXPECT_EQ(t.benchmark_names, (std::vector<std::string>{"Z", "X"}));
  EXPECT_EQ(t.descriptive_names, (std::vector<std::string>{"Y"}));
}

const char* kGood = "setting,A,C,B\ns1,1,2,3\ns2,2,3,4\n";

TEST(LawTableErrors, MissingColumn) {
  EXPECT_NE(error_of("setting,A,B\ns1,1,2\ns2,2,3\n").find("t.csv: missing column 'C'"), std::string::npos);
}

TEST(LawTableErrors, NonNumericCellNamesLineSettingAndColumn) {
  const std::string e = error_of("setting,A,C,B\ns1,1,2,3\ns2,2,x3,4\n");
  EXPECT_NE(e.find("t.csv: line 3 (setting 's2'), column 'C': 'x3' is not a number"), std::string::npos) << e;
}

TEST(LawTableErrors, NaNAndEmptyCells) {
  EXPECT_NE(
      error_of("setting,A,C,B\ns1,1,2,nan\ns2,2,3,4\n").find("column 'B': 'nan' is not a finite number"),
      std::string::npos);
  EXPECT_NE(error_of("setting,A,C,B\ns1,,2,3\ns2,2,3,4\n")
                .find("line 2 (setting 's1'), column 'A': '' is not a number"),
            std::string::npos);
}

TEST(LawTableErrors, ConstantColumn) {
  EXPECT_NE(error_of("setting,A,C,B\ns1,1,2,5\ns2,2,3,5\n").find("column 'B' holds the same value"),
            std::string::npos);
}

TEST(LawTableErrors, FewerThanTwoSettings) {
  EXPECT_NE(error_of("setting,A,C,B\ns1,1,2,3\n").find("1 setting(s); the Law needs at least 2"),
            std::string::npos);
}

TEST(LawTableErrors, DuplicateSettingNamesBothLines) {
  const std::string e = error_of("setting,A,C,B\ns1,1,2,3\ns2,2,3,4\ns1,3,4,5\n");
  EXPECT_NE(e.find("t.csv: line 4: setting 's1' already appears on line 2"), std::string::npos) << e;
}

TEST(LawTableErrors, UnknownBenchmark) {
  EXPECT_NE(error_of(kGood, {"MMBench"}).find("unknown benchmark 'MMBench'"), std::string::npos);
  EXPECT_NE(error_of(kGood, {"A"}).find("unknown benchmark 'A'"), std::string::npos);
  EXPECT_NE(error_of(kGood, {"B", "B"}).find("asked for twice"), std::string::npos);
  EXPECT_THROW(parse(kGood).benchmark_index("nope"), InputError);
}

TEST(LawTableErrors, RaggedRowAndUnterminatedQuote) {
  EXPECT_NE(error_of("setting,A,C,B\ns1,1,2\ns2,2,3,4\n").find("line 2: 3 fields, the header has 4"),
            std::string::npos);
  EXPECT_NE(error_of("setting,A,C,B\n\"s1,1,2,3\ns2,2,3,4\n").find("t.csv:2: unterminated quoted field"),
            std::string::npos);
}

TEST(LawTableErrors, NoBenchmarkColumns) {
  EXPECT_NE(error_of("setting,B,A,C\ns1,1,2,3\ns2,2,3,4\n").find("no benchmark columns"), std::string::npos);
}

}  // namespace
}  // namespace acsweep::law

// [known] results: a table and lmms-eval files read into a settings x benchmarks grid, every bad
// input named.
#include <gtest/gtest.h>

#include <array>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/sweep/known_results.hpp"
#include "temp_dir.hpp"

namespace acsweep::sweep {
namespace {

const std::vector<std::string> kSettings{"clip", "dino", "clip+dino"};
const std::vector<std::string> kBenchmarks{"shapes", "yes_no"};

class KnownResultsTest : public acsweep::testing::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  // The InputError's message, or "" when reading succeeds.
  std::string error_of(const runtime::KnownSection& known) {
    try {
      read_known_results(known, kSettings, kBenchmarks);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  runtime::KnownSection section() const {
    runtime::KnownSection known;
    known.job_path = "job.ini";
    return known;
  }
};

TEST_F(KnownResultsTest, TableAndLmmsEvalFillTheirSettings) {
  runtime::KnownSection known = section();
  // Columns in any order; A, C and others ignored; a setting left out of the table is not known.
  known.table = write("measured.csv",
                      "A,setting,yes_no,note,shapes\n-1.5,clip,1200,x,41.5\n-1.2,\"clip+dino\",900,,38\n");
  known.lmms_eval.emplace_back("dino", write("dino.json", R"({"results": {"shapes_task": {"acc,none": 0.25,
      "alias": "shapes"}, "mme": {"score,none": 1500}}, "config": {}})"));
  known.metrics = {{"shapes", "shapes_task/acc,none", 100.0}, {"yes_no", "mme/score,none", 1.0}};
  const KnownResults results = read_known_results(known, kSettings, kBenchmarks);
  EXPECT_EQ(results.count(), 3u);
  EXPECT_EQ(results.values[0], (std::vector<double>{41.5, 1200}));
  EXPECT_EQ(results.values[1], (std::vector<double>{25.0, 1500}));
  EXPECT_EQ(results.values[2], (std::vector<double>{38, 900}));
  EXPECT_EQ(results.source[1], path("dino.json"));

  known.lmms_eval.clear();
  known.metrics.clear();
  const KnownResults table_only = read_known_results(known, kSettings, kBenchmarks);
  EXPECT_EQ(table_only.count(), 2u);
  EXPECT_FALSE(table_only.has(1));
  EXPECT_EQ(read_known_results(section(), kSettings, kBenchmarks).count(), 0u);
}

TEST_F(KnownResultsTest, EveryBadInputIsNamed) {
  runtime::KnownSection known = section();
  known.table = write("partial.csv", "setting,shapes,yes_no\nclip,41.5,\ndino,30,800\n");
  EXPECT_NE(error_of(known).find("job.ini: [known] gives setting 'clip' 1 of 2 benchmarks, not yes_no"),
            std::string::npos)
      << error_of(known);
  // One bad table at a time: its file, its text, the message that names what is wrong.
  const std::vector<std::array<std::string, 3>> tables{
      {"unknown.csv", "setting,shapes,yes_no\nclip,41.5,1\nsiglip,30,800\n",
       "unknown.csv: line 3: 'siglip' is not one of the job's settings"},
      {"text.csv", "setting,shapes,yes_no\nclip,high,1\n",
       "text.csv: line 2: column 'shapes': 'high' is not a number"},
      {"nan.csv", "setting,shapes,yes_no\nclip,nan,1\n", "'nan' is not a finite number"},
      {"twice.csv", "setting,shapes,yes_no\nclip,1,1\nclip,1,1\n",
       "twice.csv: line 3: setting 'clip' appears twice"},
      {"columns.csv", "setting,mmbench\nclip,1\n",
       "columns.csv: no column is named after one of the job's [benchmarks]"},
      {"nosetting.csv", "name,shapes\nclip,1\n", "nosetting.csv: no 'setting' column"},
      {"short.csv", "setting,shapes,yes_no\nclip,1\n", "short.csv: line 2: 2 fields, the header has 3"}};
  for (const auto& [name, text, message] : tables) {
    known.table = write(name, text);
    EXPECT_NE(error_of(known).find(message), std::string::npos) << name << ": " << error_of(known);
  }

  // The same cell from two sources must agree.
  known.table = write("good.csv", "setting,shapes,yes_no\ndino,25,1400\n");
  known.lmms_eval.emplace_back(
      "dino", write("dino.json", R"({"results": {"t": {"acc,none": 0.25, "s,none": 1500}}})"));
  known.metrics = {{"shapes", "t/acc,none", 100.0}, {"yes_no", "t/s,none", 1.0}};
  EXPECT_NE(error_of(known).find("but " + path("good.csv") + " gives 1400"), std::string::npos)
      << error_of(known);
  known.metrics = {{"shapes", "t/acc,none", 100.0}, {"yes_no", "t/mme,none", 1.0}};
  EXPECT_NE(error_of(known).find("dino.json: no 't/mme,none' among the lmms-eval results (benchmark yes_no"),
            std::string::npos);
  known.table.clear();
  known.lmms_eval = {{"dino", write("bad.json", R"({"config": {}})")}};
  EXPECT_NE(error_of(known).find("bad.json: no 'results' object"), std::string::npos);
}

}  // namespace
}  // namespace acsweep::sweep

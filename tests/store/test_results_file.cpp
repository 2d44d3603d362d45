// The results file: what is written reads back, other tables are refused, and a failure before
// commit leaves the earlier file as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "acsweep/error.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/store/results_file.hpp"
#include "temp_dir.hpp"

namespace acsweep::store {
namespace {
namespace fs = std::filesystem;

law::LawTable table_of(const std::string& text) {
  std::istringstream in(text);
  return law::parse_law_table(in, "t.csv");
}

class ResultsFileTest : public acsweep::testing::TempDirTest {};

const char* kTable = "setting,tag,A,C,B1,B2\ns1,x,-2,10,50,1\ns2,y,-1.5,20,60,3\ns3,z,-1,5,55,2\n";

TEST_F(ResultsFileTest, WritesLawFitsThatReadBack) {
  const law::LawTable table = table_of(kTable);
  {
    ResultsFile results(path("r.h5"), table, {"acsweep law t.csv", 0, 1});
    write_law_fits(results, table);
    results.commit();
  }
  H5File file = H5File::open_read_only(path("r.h5"));
  EXPECT_EQ(file.open_group("settings").read_strings("name"), table.settings);
  EXPECT_EQ(file.open_group("settings").read_strings("tag"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(file.open_group("scores").read_doubles("A"), table.alignment);
  EXPECT_EQ(file.string_attribute("version"), kResultsVersion);
  EXPECT_EQ(file.string_attribute("command_line"), "acsweep law t.csv");
  H5Location fits = file.open_group("law").open_group("deg1_A");
  EXPECT_EQ(fits.read_strings("terms"), (std::vector<std::string>{"one", "a"}));
  // Three points, two coefficients; a = (0, .5, 1), B2 normalised = (0, 1, .5): slope .5,
  // intercept .25, R^2 = 1 - .375/.5.
  EXPECT_NEAR(fits.read_doubles("coefficients")[3], 0.5, 1e-12);
  EXPECT_NEAR(fits.read_doubles("r2")[1], 0.25, 1e-12);
  EXPECT_EQ(fits.read_doubles("fitted").size(), 6u);
  EXPECT_FALSE(fs::exists(path("r.h5.tmp." + std::to_string(::getpid()))));
}

TEST_F(ResultsFileTest, SecondCommandAddsItsGroupAndKeepsTheFirst) {
  const law::LawTable table = table_of(kTable);
  {
    ResultsFile results(path("r.h5"), table, {"law", 0, 1});
    write_law_fits(results, table);
    results.commit();
  }
  {
    law::SimulationSpec spec;
    spec.budgets = {1, 2};
    spec.runs = 10;
    const law::PolicySimulation sim(table, spec);
    ResultsFile results(path("r.h5"), table, {"policy", 7, 2});
    H5Location group = results.replace_group("policy");
    write_policy_simulation(group, table, sim.summarise(sim.count_hits()));
    results.commit();
  }
  H5File file = H5File::open_read_only(path("r.h5"));
  EXPECT_TRUE(file.has("law"));
  EXPECT_TRUE(file.open_group("policy").has("simulation"));
  EXPECT_EQ(file.string_attribute("command_line"), "policy");
  EXPECT_EQ(file.open_group("law").string_attribute("command_line"), "law");
  EXPECT_EQ(file.open_group("policy").open_group("simulation").read_doubles("recall_at_1").size(),
            2u * 2 * 2);
}

TEST_F(ResultsFileTest, RefusesAnotherTableAndLeavesTheFileAlone) {
  const law::LawTable table = table_of(kTable);
  {
    ResultsFile results(path("r.h5"), table, {"law", 0, 1});
    write_law_fits(results, table);
    results.commit();
  }
  const auto before = fs::file_size(path("r.h5"));
  const law::LawTable other = table_of("setting,A,C,B\nq1,1,2,3\nq2,2,3,4\n");
  try {
    ResultsFile results(path("r.h5"), other, {"law", 0, 1});
    FAIL() << "another table was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("holds results of another table"), std::string::npos);
  }
  EXPECT_EQ(fs::file_size(path("r.h5")), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ResultsFileTest, NoCommitNoChange) {
  const law::LawTable table = table_of(kTable);
  {
    ResultsFile results(path("r.h5"), table, {"first", 0, 1});
    results.commit();
  }
  {
    ResultsFile results(path("r.h5"), table, {"second", 0, 1});
    write_law_fits(results, table);
    // An error here (no commit) must not touch r.h5.
  }
  H5File file = H5File::open_read_only(path("r.h5"));
  EXPECT_EQ(file.string_attribute("command_line"), "first");
  EXPECT_FALSE(file.has("law"));
}

TEST_F(ResultsFileTest, UnwritableDirectoryIsAStoreErrorNamingThePath) {
  const law::LawTable table = table_of(kTable);
  try {
    ResultsFile results(path("missing/dir/r.h5"), table, {"x", 0, 1});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/dir/r.h5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace acsweep::store

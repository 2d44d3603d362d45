// The journal and the run directory: exact round trips, a torn tail ignored, corruption refused,
// a directory of another job refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "acsweep/error.hpp"
#include "acsweep/store/journal.hpp"
#include "acsweep/store/run_store.hpp"
#include "temp_dir.hpp"

namespace acsweep::store {
namespace {
namespace fs = std::filesystem;

class JournalTest : public acsweep::testing::TempDirTest {};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

JournalRecord record(std::uint64_t index, std::vector<double> values) {
  return {"done",
          index,
          "task " + std::to_string(index),
          "h" + std::to_string(index),
          std::move(values),
          {},
          "",
          1,
          1,
          0.5};
}

TEST_F(JournalTest, ValuesRoundTripBitForBit) {
  const std::vector<double> values{0.1,    -0.0,  std::numeric_limits<double>::quiet_NaN(),
                                   5e-324, 1e308, -1.0 / 3};
  {
    JournalWriter writer(path("j.jsonl"));
    JournalRecord r = record(7, values);
    r.per_sample["loglik"] = {-2.25, 1.0 / 7};
    r.message = "with \"quotes\" and\nnewline";
    writer.append(r);
  }
  const auto records = read_journal(path("j.jsonl"));
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].values.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_TRUE(same_bits(records[0].values[i], values[i])) << i;
  EXPECT_TRUE(same_bits(records[0].per_sample.at("loglik")[1], 1.0 / 7));
  EXPECT_EQ(records[0].message, "with \"quotes\" and\nnewline");
  EXPECT_EQ(records[0].index, 7u);
}

TEST_F(JournalTest, TornLastRecordIsIgnored) {
  {
    JournalWriter writer(path("j.jsonl"));
    writer.append(record(1, {1.0}));
    writer.append(record(2, {2.0}));
  }
  const auto size = fs::file_size(path("j.jsonl"));
  fs::resize_file(path("j.jsonl"), size - 7);  // the kill came in the middle of record 2
  const auto records = read_journal(path("j.jsonl"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].index, 1u);
}

TEST_F(JournalTest, CorruptionBeforeTheEndIsAnErrorNamingFileAndLine) {
  {
    JournalWriter writer(path("j.jsonl"));
    for (int i = 0; i < 3; ++i) writer.append(record(i, {double(i)}));
  }
  std::fstream f(path("j.jsonl"), std::ios::in | std::ios::out | std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto second = text.find('\n') + 1;
  text[second + 20] = text[second + 20] == 'x' ? 'y' : 'x';  // flip a byte inside record 2
  f.seekp(0);
  f << text;
  f.close();
  try {
    read_journal(path("j.jsonl"));
    FAIL() << "corruption was not noticed";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path("j.jsonl") + ", line 2: checksum mismatch"), std::string::npos)
        << e.what();
  }
}

TEST_F(JournalTest, RunDirectoryBelongsToOneJob) {
  const std::string dir = path("run");
  {
    RunDirectory run(dir, "alpha");
    EXPECT_EQ(run.last_segment(), 0);
    run.start_segment(1);
    JournalWriter(journal_path(dir, 1, 3)).append(record(4, {4.0}));
    run.start_segment(2);
    JournalRecord newer = record(4, {40.0});
    newer.segment = 2;
    JournalWriter(journal_path(dir, 2, 0)).append(newer);
    JournalRecord failed = record(5, {});
    failed.status = "failed";
    JournalWriter(journal_path(dir, 2, 1)).append(failed);
  }
  const RunDirectory again(dir, "alpha");
  EXPECT_EQ(again.last_segment(), 2);
  const auto done = again.done_by_hash();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done.at("h4").values[0], 40.0);  // the newest segment wins
  EXPECT_EQ(RunDirectory::job_of(dir), "alpha");
  try {
    RunDirectory other(dir, "beta");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("belongs to job 'alpha', not 'beta'"), std::string::npos);
  }
  fs::create_directories(path("stranger"));
  std::ofstream(path("stranger/notes.txt")) << "mine";
  EXPECT_THROW(RunDirectory(path("stranger"), "alpha"), InputError);
  EXPECT_THROW(RunDirectory::job_of(path("nothing")), InputError);
}

}  // namespace
}  // namespace acsweep::store

// The limits on what a reader takes whole (bounded_read.hpp, README "Limits"): a file past its
// kind's limit is refused before anything is allocated for it, naming the file and the limit
// (sparse files stand in for the large ones: no byte of them is written or read); a device that
// never ends is cut at the limit; a bad pair annotation inside SPair-71k is skipped and named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "acsweep/bounded_read.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "temp_dir.hpp"

namespace acsweep {
namespace {
namespace fs = std::filesystem;

class Limits : public testing::TempDirTest {
 protected:
  // A sparse file of `bytes`: its size is all a reader may look at.
  std::string sparse(const std::string& name, std::uintmax_t bytes) {
    const auto file = path(name);
    fs::create_directories(fs::path(file).parent_path());
    std::ofstream(file).put('[');
    fs::resize_file(file, bytes);
    return file;
  }
  static std::string refusal(const std::function<void()>& read) {
    try {
      read();
    } catch (const InputError& e) {
      return e.what();
    }
    return "(read without an error)";
  }
};

TEST_F(Limits, EachReaderRefusesAFilePastItsLimitNamingFileAndLimit) {
  struct Case {
    std::string name, limit;
    std::uintmax_t bytes;
    std::function<void(const std::string&)> read;
  };
  const std::vector<Case> cases{
      {"captions.json", "4 GiB", kMaxLlavaJsonBytes + 1,
       [](const std::string& p) { data::read_llava_json(p, "."); }},
      {"bench.jsonl", "1 GiB", kMaxBenchmarkBytes + 1,
       [](const std::string& p) { eval::read_benchmark(p, ".", eval::BenchmarkKind::multiple_choice, "b"); }},
      {"lmms.json", "64 MiB", kMaxConfigBytes + 1, [](const std::string& p) { eval::read_lmms_eval(p); }},
      {"config.json", "64 MiB", kMaxConfigBytes + 1,
       [](const std::string& p) { models::read_llama_config(p); }},
      {"preprocessor_config.json", "64 MiB", kMaxConfigBytes + 1,
       [](const std::string& p) { data::read_preprocessor_config(p); }},
      {"job.ini", "64 MiB", kMaxConfigBytes + 1, [](const std::string& p) { runtime::read_job(p); }},
      {"tokenizer.model", "256 MiB", kMaxTokenizerBytes + 1,
       [](const std::string& p) { models::Tokenizer{p}; }},
  };
  for (const auto& c : cases) {
    const auto file = sparse(c.name, c.bytes);
    const auto message = refusal([&] { c.read(file); });
    EXPECT_NE(message.find(file + ": " + std::to_string(c.bytes) + " bytes, more than the " + c.limit),
              std::string::npos)
        << c.name << ": " << message;
    fs::remove(file);
  }
}

TEST_F(Limits, AFileAtItsLimitIsRead) {
  std::ofstream(path("small.json")) << "[1, 2]";
  EXPECT_EQ(read_bounded(path("small.json"), 6, "a test file"), "[1, 2]");
  EXPECT_NE(refusal([&] {
              read_bounded(path("small.json"), 5, "a test file");
            }).find("6 bytes, more than the 5 bytes a test file may hold"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              read_bounded(path("absent.json"), 5, "a test file");
            }).find("absent.json: cannot open a test file"),
            std::string::npos);
}

TEST_F(Limits, ADeviceThatNeverEndsIsCutAtTheLimit) {
  EXPECT_NE(refusal([] {
              read_bounded("/dev/zero", kMiB, "a pair annotation");
            }).find("/dev/zero: more than the 1 MiB a pair annotation may hold"),
            std::string::npos);
}

TEST_F(Limits, AnOversizedPairAnnotationIsSkippedAndNamed) {
  const auto file = sparse("spair/PairAnnotation/test/000001-big.json", kMaxPairJsonBytes + 1);
  const auto pairs = data::read_spair(path("spair"), "test");
  EXPECT_TRUE(pairs.pairs.empty());
  ASSERT_EQ(pairs.skipped.size(), 1u);
  EXPECT_NE(pairs.skipped[0].find(file + ": " + std::to_string(kMaxPairJsonBytes + 1) +
                                  " bytes, more than the 1 MiB"),
            std::string::npos)
      << pairs.skipped[0];
}

}  // namespace
}  // namespace acsweep

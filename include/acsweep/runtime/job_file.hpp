#pragma once
// Job files: INI read with Boost.Program_options (shared/spec/ARCHITECTURE.md, "Job file").
// Every key is declared once in a schema with its type and default; every key can also be set on
// the command line as `--set section.key=value`, which wins over the file. Unknown keys, wrong
// types, missing files and impossible values are InputErrors naming the file, section and key,
// raised before any rank starts work. Relative paths are relative to the job file's folder.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace acsweep::runtime {

struct Layout {
  int groups = 0;      // worker groups
  int group_size = 1;  // ranks per worker group
};

struct SimulationSection {
  std::vector<std::string> tables;  // absolute paths
  std::string budgets = "all";      // "all" or a comma list
  std::int64_t runs = 1000;
  std::int64_t runs_per_task = 100;
  std::string samplers = "both";
};

struct JobSpec {
  std::string path;  // the job file
  std::string text;  // its text with the --set overrides appended, stored in the results
  std::string name;
  std::string output;  // results directory, absolute
  std::uint64_t seed = 0;
  int max_attempts = 3;  // tries of a failing task before it is recorded as failed
  std::optional<Layout> layout;
  SimulationSection simulation;
};

// Reads and validates `path` with `overrides` ("section.key=value").
JobSpec read_job(const std::string& path, const std::vector<std::string>& overrides = {});

// The documented keys, one "section.key  type  default  meaning" line each (acsweep run --help).
std::string job_keys_help();

}  // namespace acsweep::runtime

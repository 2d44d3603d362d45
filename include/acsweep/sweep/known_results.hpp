#pragma once
// Benchmark results measured before this run (shared/spec/ARCHITECTURE.md, "Pipeline", step 3:
// known results count as already finetuned): a results table (a `setting` column and one column
// per [benchmarks] name, e.g. an earlier run's measured.csv) and lmms-eval results JSON, one per
// setting, with the job saying which lmms-eval number is which benchmark.
#include <cstddef>
#include <string>
#include <vector>

#include "acsweep/runtime/job_file.hpp"

namespace acsweep::sweep {

struct KnownResults {
  std::vector<std::vector<double>> values;  // [setting][benchmark]; empty: nothing known
  std::vector<std::string> source;          // [setting]: the file(s) its results came from

  bool has(std::size_t setting) const { return !values.at(setting).empty(); }
  std::size_t count() const;
};

// Every cell a job's settings x benchmarks; a setting is known for all its benchmarks or none.
// InputError naming the file, line, column, key or setting: an unknown setting or benchmark
// column, a cell that is not a finite number, a setting given twice with different values, a
// setting known for some benchmarks only, an lmms-eval file without a metric the job names.
KnownResults read_known_results(const runtime::KnownSection& known, const std::vector<std::string>& settings,
                                const std::vector<std::string>& benchmarks);

}  // namespace acsweep::sweep

#pragma once
// The results file of `acsweep law` and `acsweep policy` (serial HDF5, written by one rank).
// Several commands on one table accumulate in one file: each replaces only its own group.
// The file is rewritten atomically: changes go to a temporary copy that replaces the file on
// commit(), so an error or a kill never leaves it half-written.
#include <cstdint>
#include <memory>
#include <string>

#include "acsweep/law/fit.hpp"
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/store/hdf5.hpp"

namespace acsweep::store {

inline constexpr const char* kResultsVersion = "1";

struct RunRecord {
  std::string command_line;
  std::uint64_t seed = 0;
  int world_size = 1;
};

class ResultsFile {
 public:
  // Opens `path` (or starts a new file) for the results of `table`. A file that holds another
  // table's settings is refused with an InputError: results of two tables never mix.
  ResultsFile(const std::string& path, const law::LawTable& table, const RunRecord& run);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  // An empty group `name` under the root, replacing any earlier one, stamped with the run.
  H5Location replace_group(const std::string& name);
  // Closes the file and moves it into place.
  void commit();

 private:
  std::string path_, temporary_;
  RunRecord run_;
  std::unique_ptr<H5File> file_;
};

// Every fit of the Law on the table: /law/<deg{1,2}_{AC,A,C}>/{terms, coefficients [B,p],
// r2 [B], fitted [B,k]} and /law/y_normalised [B,k].
void write_law_fits(ResultsFile& results, const law::LawTable& table);
// <group>/<name>: budgets, samplers, recall_at_{1,3} [sampler, budget, benchmark], the
// averages over benchmarks, and the best setting per benchmark.
void write_policy_simulation(H5Location& group, const law::LawTable& table,
                             const law::SimulationResult& result, const std::string& name = "simulation");

}  // namespace acsweep::store

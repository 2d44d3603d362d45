#pragma once
// The input of `acsweep law` and `acsweep policy`: one row per setting with its A score,
// C score and benchmark results (shared/spec/LAW.md, "Data shipped for checking").
#include <istream>
#include <string>
#include <vector>

namespace acsweep::law {

struct LawTable {
  std::string source;  // file the table came from, named in every error
  std::vector<std::string> settings;
  std::vector<double> alignment;       // A: mean caption log-likelihood (higher is better)
  std::vector<double> correspondence;  // C: PCK@0.1 in percent
  std::vector<std::string> benchmark_names;
  std::vector<std::vector<double>> benchmark_scores;  // [benchmark][setting]
  // Columns that are neither setting, A, C nor a chosen benchmark, carried along verbatim.
  std::vector<std::string> descriptive_names;
  std::vector<std::vector<std::string>> descriptive_values;  // [column][setting]

  std::size_t size() const { return settings.size(); }
  // Throws InputError naming the table when `name` is not one of its benchmarks.
  std::size_t benchmark_index(const std::string& name) const;
};

// Column rules: `setting`, `A` and `C` are required. Without `benchmarks`, every column to the
// right of both A and C is a benchmark and the columns before are descriptive (the layout of
// jobs/data/law_paper_vicuna7b_15.csv); with `benchmarks`, exactly those columns, in that order.
// Every error is an InputError that names the file, and the column and row where one applies:
// missing columns, non-numeric or non-finite cells, a constant column, fewer than 2 settings,
// duplicate setting names, an unknown benchmark.
LawTable parse_law_table(std::istream& in, const std::string& source,
                         const std::vector<std::string>& benchmarks = {});
LawTable read_law_table(const std::string& path, const std::vector<std::string>& benchmarks = {});

}  // namespace acsweep::law

#pragma once
// The Law fitted on a whole table: A, C and every benchmark min-max normalised over the
// table's settings, then one fit per benchmark.
#include <vector>

#include "acsweep/law/fit.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::law {

struct NormalisedTable {
  std::vector<double> a, c;
  std::vector<std::vector<double>> y;  // [benchmark][setting]
};

NormalisedTable normalise_table(const LawTable& table);

// One fit per benchmark, in table order.
std::vector<LawFit> fit_table(const NormalisedTable& table, const LawModel& model);

}  // namespace acsweep::law

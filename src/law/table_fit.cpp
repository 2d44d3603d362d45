#include "acsweep/law/table_fit.hpp"

#include "acsweep/law/normalise.hpp"

namespace acsweep::law {

NormalisedTable normalise_table(const LawTable& table) {
  const std::string column = table.source + ": column '";
  NormalisedTable out;
  out.a = min_max_normalise(table.alignment, column + "A'");
  out.c = min_max_normalise(table.correspondence, column + "C'");
  for (std::size_t b = 0; b < table.benchmark_names.size(); ++b)
    out.y.push_back(min_max_normalise(table.benchmark_scores[b], column + table.benchmark_names[b] + "'"));
  return out;
}

std::vector<LawFit> fit_table(const NormalisedTable& table, const LawModel& model) {
  std::vector<LawFit> fits;
  for (const auto& y : table.y) fits.push_back(fit_law(model, table.a, table.c, y));
  return fits;
}

}  // namespace acsweep::law

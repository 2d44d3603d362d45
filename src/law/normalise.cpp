#include "acsweep/law/normalise.hpp"

#include <algorithm>

#include "acsweep/error.hpp"

namespace acsweep::law {

MinMax min_max_of(const std::vector<double>& values, const std::string& what) {
  if (values.empty()) throw InputError(what + ": no values to normalise");
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  if (!(*hi > *lo)) throw InputError(what + ": all values are equal, nothing to normalise");
  return MinMax{*lo, *hi};
}

MinMax range_or_unit(const std::vector<double>& values) {
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return MinMax{*lo, *hi > *lo ? *hi : *lo + 1.0};
}

std::vector<double> min_max_normalise(const std::vector<double>& values, const std::string& what) {
  const MinMax range = min_max_of(values, what);
  std::vector<double> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), [&](double x) { return range.apply(x); });
  return out;
}

}  // namespace acsweep::law

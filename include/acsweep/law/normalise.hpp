#pragma once
// Min-max normalisation over the settings of one table (LAW.md, "The Law").
#include <string>
#include <vector>

namespace acsweep::law {

struct MinMax {
  double lo = 0.0;
  double hi = 1.0;
  double apply(double x) const { return (x - lo) / (hi - lo); }
};

// The range of `values`; throws InputError naming `what` when it is empty or constant.
MinMax min_max_of(const std::vector<double>& values, const std::string& what);

// The range of `values` as the AC policy normalises by it: a constant column gets a unit span, so
// it maps to 0 (nothing to order). `values` must not be empty.
MinMax range_or_unit(const std::vector<double>& values);

// `values` mapped to [0, 1] by their own range.
std::vector<double> min_max_normalise(const std::vector<double>& values, const std::string& what);

}  // namespace acsweep::law

#include "acsweep/law/synthetic_table.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "acsweep/law/seeded_rng.hpp"

namespace acsweep::law {

LawTable synthetic_law_table(const SyntheticTableSpec& spec, std::uint64_t seed) {
  if (spec.settings < 2 || spec.benchmarks == 0 || !(spec.noise >= 0) ||
      !(spec.shared >= 0 && spec.shared <= 1))
    throw std::invalid_argument(
        "synthetic_law_table: needs 2+ settings, 1+ benchmarks, noise >= 0, shared in [0, 1]");
  SeededRng rng(seed);
  LawTable table;
  char source[96];
  std::snprintf(source, sizeof source, "synthetic(%zu settings, noise %g, seed %llu)", spec.settings,
                spec.noise, static_cast<unsigned long long>(seed));
  table.source = source;
  for (std::size_t i = 0; i < spec.settings; ++i) {
    table.settings.push_back("s" + std::to_string(i));
    table.alignment.push_back(uniform_unit(rng) - 1.0);  // a log-likelihood-like A in (-1, 0]
    table.correspondence.push_back(100.0 * uniform_unit(rng));
  }
  constexpr std::size_t kTerms = 6;
  std::array<double, kTerms> common{};
  for (double& w : common) w = standard_normal(rng);
  for (std::size_t b = 0; b < spec.benchmarks; ++b) {
    std::array<double, kTerms> w{};
    for (std::size_t t = 0; t < kTerms; ++t)
      w[t] = std::sqrt(spec.shared) * common[t] + std::sqrt(1.0 - spec.shared) * standard_normal(rng);
    std::vector<double> y(spec.settings);
    for (std::size_t i = 0; i < spec.settings; ++i) {
      const double a = table.alignment[i] + 1.0, c = table.correspondence[i] / 100.0;
      y[i] = w[0] + w[1] * a + w[2] * c + w[3] * a * a + w[4] * a * c + w[5] * c * c;
    }
    const auto [lo, hi] = std::minmax_element(y.begin(), y.end());
    const double low = *lo, range = *hi - *lo > 0 ? *hi - *lo : 1.0;
    for (double& v : y) v = (v - low) / range + spec.noise * standard_normal(rng);
    table.benchmark_names.push_back("B" + std::to_string(b));
    table.benchmark_scores.push_back(std::move(y));
  }
  return table;
}

}  // namespace acsweep::law

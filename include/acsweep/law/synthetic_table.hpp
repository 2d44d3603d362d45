#pragma once
// Synthetic tables of known results, on which a policy is judged without tuning it to the
// paper's table (tests, bench/policy_samplers): random A and C, and per benchmark a random
// quadratic of them plus noise. Benchmarks share part of their quadratic, as real benchmarks of
// one MLLM agree in part on which vision representation is better.
#include <cstddef>
#include <cstdint>

#include "acsweep/law/table.hpp"

namespace acsweep::law {

struct SyntheticTableSpec {
  std::size_t settings = 15;
  std::size_t benchmarks = 6;
  // The noise's standard deviation, relative to the range of each benchmark's quadratic.
  double noise = 0.05;
  // Share of every coefficient's variance that the benchmarks have in common (0: independent).
  double shared = 0.8;
};

// A = u - 1 in (-1, 0] (log-likelihood-like) and C = 100 v in (0, 100] (percent), u and v uniform;
// over a = A + 1 and c = C / 100, per benchmark b the coefficients of
// (1, a, c, a^2, ac, c^2) are sqrt(shared) w0 + sqrt(1 - shared) w_b with w ~ N(0, I), the
// quadratic is min-max normalised over the settings, and N(0, noise^2) is added. Settings are
// named s0, s1, ..., benchmarks B0, B1, ...; the source is "synthetic(settings, noise, seed)".
// The same spec and seed give the same table.
LawTable synthetic_law_table(const SyntheticTableSpec& spec, std::uint64_t seed);

}  // namespace acsweep::law

// How one AC-policy run grows with the size of the search space: sample 16 settings by
// region-based sampling, fit the Law on them, predict and rank every setting. Side by side, the
// baseline is one min-max normalisation pass over the same settings (the least any method must
// do), so the ratio says how many "passes" a policy run costs. Goal: 10^6 settings in under a
// second on one core, growing linearly.
//
//   build/bench/bench_policy_scale [budget=16] [repeats=5]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "acsweep/law/ac_policy.hpp"
#include "acsweep/law/normalise.hpp"
#include "best_of.hpp"

using acsweep::law::ACPolicy;

int main(int argc, char** argv) {
  const std::size_t budget = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 16;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::printf("%10s %14s %14s %10s %12s\n", "settings", "policy run s", "normalise s", "ratio", "growth x10");
  double previous = 0.0;
  for (std::size_t n : {10000u, 100000u, 1000000u}) {
    std::mt19937_64 gen(n);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> noise(0, 0.05);
    std::vector<double> A(n), C(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      A[i] = -4 + 2.3 * u(gen);
      C[i] = 2 + 24 * u(gen);
    }
    const std::vector<double> a = acsweep::law::min_max_normalise(A, "A");
    const std::vector<double> c = acsweep::law::min_max_normalise(C, "C");
    for (std::size_t i = 0; i < n; ++i) y[i] = a[i] + 0.5 * a[i] * c[i] - 0.3 * c[i] * c[i] + noise(gen);
    const ACPolicy policy(a, c);

    std::size_t top = 0;
    const double policy_s = best_seconds(repeats, [&] {
      acsweep::law::SeededRng rng(n);
      const std::vector<std::size_t> sampled = policy.sampler().sample(budget, rng);
      std::vector<double> measured;
      for (std::size_t i : sampled) measured.push_back(y[i]);
      top += policy.rank(sampled, measured).ranking[0];
    });
    double sink = 0;
    const double normalise_s =
        best_seconds(repeats, [&] { sink += acsweep::law::min_max_normalise(A, "A")[n / 2]; });
    std::printf("%10zu %14.4f %14.5f %10.1f %12s\n", n, policy_s, normalise_s, policy_s / normalise_s,
                previous > 0 ? std::to_string(policy_s / previous).substr(0, 5).c_str() : "-");
    previous = policy_s;
    if (top == static_cast<std::size_t>(-1) || sink == -1) std::puts("");  // keep the work observable
  }
  return 0;
}

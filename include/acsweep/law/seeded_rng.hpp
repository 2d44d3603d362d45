#pragma once
// The random numbers behind every choice the method makes. SplitMix64 with rejection sampling:
// the same stream on every compiler and standard library (std::uniform_int_distribution is not),
// and short enough that an independent reference (bench/, tests/) can replay it exactly.
#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace acsweep::law {

class SeededRng {
 public:
  static constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

  explicit SeededRng(std::uint64_t seed) : state_(seed) {}

  // SplitMix64's output function: a bijective 64-bit mix.
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::uint64_t next() { return mix(state_ += kGolden); }

  // Uniform in [0, n), n > 0, without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (true) {
      const std::uint64_t x = next();
      if (x >= threshold) return x % n;
    }
  }

 private:
  std::uint64_t state_;
};

// Uniform in (0, 1]: 53 random bits.
inline double uniform_unit(SeededRng& rng) {
  return (static_cast<double>(rng.next() >> 11) + 1.0) * 0x1.0p-53;
}

// A standard normal by Box-Muller, one of the pair (two draws of the stream per value).
inline double standard_normal(SeededRng& rng) {
  const double u = uniform_unit(rng), v = uniform_unit(rng);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
}

// A seed for one independent stream named by `path` (e.g. {sampler, budget, run}): the same
// path gives the same stream whichever rank or thread asks for it.
inline std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> path) {
  std::uint64_t h = SeededRng::mix(seed);
  for (std::uint64_t x : path) h = SeededRng::mix(h ^ SeededRng::mix(x + SeededRng::kGolden));
  return h;
}

}  // namespace acsweep::law

// RegionSampler against the rule of LAW.md, re-derived here from the drawn sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "acsweep/error.hpp"
#include "acsweep/law/region_sampler.hpp"

namespace acsweep::law {
namespace {

using Cell = std::pair<std::uint64_t, std::uint64_t>;

Cell cell(double a, double c, int level) {
  return {RegionSampler::cell_of(a, level), RegionSampler::cell_of(c, level)};
}

// A level is exhausted when every non-empty cell holds one of `picked`.
bool exhausted(const std::vector<double>& a, const std::vector<double>& c,
               const std::vector<std::size_t>& picked, int level) {
  std::set<Cell> taken;
  for (std::size_t p : picked) taken.insert(cell(a[p], c[p], level));
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!taken.count(cell(a[i], c[i], level))) return false;
  return true;
}

void random_points(std::size_t n, std::uint64_t seed, std::vector<double>& a, std::vector<double>& c) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0, 1);
  a.clear();
  c.clear();
  for (std::size_t i = 0; i < n; ++i) {
    a.push_back(u(gen));
    c.push_back(u(gen));
  }
  a[0] = 0, c[0] = 0, a[1] = 1, c[1] = 1;  // the corners, so normalisation holds
}

TEST(RegionSampler, CellsOnEdges) {
  EXPECT_EQ(RegionSampler::cell_of(0.0, 1), 0u);
  EXPECT_EQ(RegionSampler::cell_of(0.5, 1), 1u);  // a lower edge belongs to the upper cell
  EXPECT_EQ(RegionSampler::cell_of(1.0, 1), 1u);  // the upper edge belongs to the last cell
  EXPECT_EQ(RegionSampler::cell_of(1.0, 3), 7u);
  EXPECT_EQ(RegionSampler::cell_of(0.25, 2), 1u);
  EXPECT_EQ(RegionSampler::cell_of(0.2499999, 2), 0u);
}

TEST(RegionSampler, FollowsTheLevelRule) {
  // Each pick must lie in a cell without an earlier pick at the first level not yet exhausted.
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<double> a, c;
    random_points(40, seed, a, c);
    const RegionSampler sampler(a, c);
    SeededRng rng(seed);
    const std::vector<std::size_t> drawn = sampler.sample(40, rng);
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      const std::vector<std::size_t> before(drawn.begin(), drawn.begin() + static_cast<long>(i));
      int level = 1;
      while (exhausted(a, c, before, level)) ++level;
      ASSERT_LE(level, RegionSampler::kMaxLevel);
      const Cell mine = cell(a[drawn[i]], c[drawn[i]], level);
      for (std::size_t p : before)
        ASSERT_NE(cell(a[p], c[p], level), mine) << "seed " << seed << " pick " << i << " level " << level;
    }
  }
}

TEST(RegionSampler, FullBudgetSamplesEverySettingOnceEvenWithDuplicatePoints) {
  // Points 2, 3 and 4 coincide: no grid separates them, the fallback must still take all.
  std::vector<double> a{0, 1, 0.3, 0.3, 0.3, 0.7, 0.5, 0.5}, c{0, 1, 0.6, 0.6, 0.6, 0.2, 0.5, 0.5};
  const RegionSampler sampler(a, c);
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    SeededRng rng(seed);
    std::vector<std::size_t> drawn = sampler.sample(a.size(), rng);
    std::sort(drawn.begin(), drawn.end());
    EXPECT_EQ(drawn, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  }
}

TEST(RegionSampler, SameSeedSameSampleOtherSeedOtherSample) {
  std::vector<double> a, c;
  random_points(200, 3, a, c);
  const RegionSampler sampler(a, c);
  SeededRng r1(42), r2(42), r3(43);
  const auto s1 = sampler.sample(16, r1), s2 = sampler.sample(16, r2), s3 = sampler.sample(16, r3);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
}

TEST(RegionSampler, PicksCellsUniformlyNotPoints) {
  // Level 1: cell (0,0) holds three settings, cell (1,1) one. The first pick is in each cell
  // half the time, whatever the head count.
  const RegionSampler sampler({0, 0.1, 0.2, 1}, {0, 0.1, 0.2, 1});
  int lone = 0;
  const int trials = 8000;
  for (int s = 0; s < trials; ++s) {
    SeededRng rng(derive_seed(5, {static_cast<std::uint64_t>(s)}));
    lone += sampler.sample(1, rng)[0] == 3;
  }
  EXPECT_NEAR(lone / double(trials), 0.5, 4 * std::sqrt(0.25 / trials));
}

TEST(RegionSampler, AlreadyFinetunedCellsCountAsSampled) {
  // Four settings, one per level-1 cell; with setting 0 known, the next 3 picks are the others.
  const RegionSampler sampler({0, 1, 0, 1}, {0, 0, 1, 1});
  SeededRng rng(1);
  std::vector<std::size_t> drawn = sampler.sample(3, rng, {0});
  std::sort(drawn.begin(), drawn.end());
  EXPECT_EQ(drawn, (std::vector<std::size_t>{1, 2, 3}));
  SeededRng again(1);
  EXPECT_THROW(sampler.sample(4, again, {0}), InputError);
}

TEST(SeededRng, BelowIsUniformAndReproducible) {
  SeededRng rng(9);
  std::map<std::uint64_t, int> counts;
  for (int i = 0; i < 60000; ++i) ++counts[rng.below(6)];
  for (const auto& [value, count] : counts) {
    EXPECT_LT(value, 6u);
    EXPECT_NEAR(count, 10000, 400);
  }
  // SplitMix64's published first outputs for seed 0 pin the stream down across platforms.
  SeededRng zero(0);
  EXPECT_EQ(zero.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(zero.next(), 0x6E789E6AA1B965F4ULL);
}

}  // namespace
}  // namespace acsweep::law

// The linear-time ranking against the obvious comparison sort, ties and signed zeros included.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "acsweep/law/ranking.hpp"

namespace acsweep::law {
namespace {

std::vector<std::size_t> reference_ranking(const std::vector<double>& s) {
  std::vector<std::size_t> order(s.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return s[i] > s[j] || (s[i] == s[j] && i < j); });
  return order;
}

TEST(Ranking, RadixEqualsComparisonSortWithTies) {
  std::mt19937_64 gen(5);
  std::uniform_int_distribution<int> coarse(-50, 50);
  std::normal_distribution<double> fine(0, 1e6);
  for (std::size_t n : {1u, 7u, 4095u, 4096u, 20000u, 300000u}) {
    std::vector<double> s(n);
    for (std::size_t i = 0; i < n; ++i)
      s[i] = (i % 3 == 0) ? coarse(gen) * 0.25 : fine(gen);             // many exact ties, both signs
    if (n > 4) s[1] = -0.0, s[2] = 0.0, s[3] = 1e-310, s[4] = -1e-310;  // signed zero, subnormals
    const std::vector<std::size_t> ranking = rank_descending(s);
    ASSERT_EQ(ranking, reference_ranking(s)) << "n=" << n;
    for (std::size_t i = 0; i < std::min<std::size_t>(n, 50); ++i)
      EXPECT_EQ(rank_of(s.data(), n, ranking[i]), i);
  }
}

}  // namespace
}  // namespace acsweep::law

#include "acsweep/law/ranking.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <utility>

namespace acsweep::law {
namespace {

// A key whose ascending unsigned order is the descending order of the doubles (-0.0 == 0.0).
std::uint64_t descending_key(double x) {
  if (x == 0.0) x = 0.0;
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const std::uint64_t ascending = (bits >> 63) ? ~bits : bits | (std::uint64_t{1} << 63);
  return ~ascending;
}

}  // namespace

std::vector<std::size_t> rank_descending(const std::vector<double>& score) {
  const std::size_t n = score.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (n < 4096) {  // a comparison sort wins below a few thousand
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t i, std::size_t j) { return score[i] > score[j]; });
    return order;
  }
  // LSD radix sort, 11 bits a pass: stable, so equal scores stay in index order.
  constexpr int kBits = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  std::vector<std::uint64_t> key(n), key_out(n);
  for (std::size_t i = 0; i < n; ++i) key[i] = descending_key(score[i]);
  std::vector<std::size_t> order_out(n);
  std::vector<std::size_t> count(kBuckets);
  for (int shift = 0; shift < 64; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (std::size_t i = 0; i < n; ++i) ++count[(key[i] >> shift) & (kBuckets - 1)];
    if (count[(key[0] >> shift) & (kBuckets - 1)] == n) continue;  // this digit is the same everywhere
    std::size_t sum = 0;
    for (auto& c : count) sum += std::exchange(c, sum);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = count[(key[i] >> shift) & (kBuckets - 1)]++;
      key_out[at] = key[i];
      order_out[at] = order[i];
    }
    key.swap(key_out);
    order.swap(order_out);
  }
  return order;
}

std::size_t rank_of(const double* score, std::size_t n, std::size_t setting) {
  const double s = score[setting];
  std::size_t ahead = 0;
  for (std::size_t j = 0; j < n; ++j) ahead += score[j] > s || (score[j] == s && j < setting);
  return ahead;
}

}  // namespace acsweep::law

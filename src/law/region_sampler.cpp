#include "acsweep/law/region_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "acsweep/error.hpp"

namespace acsweep::law {

RegionSampler::RegionSampler(std::vector<double> a, std::vector<double> c)
    : a_(std::move(a)), c_(std::move(c)) {
  if (a_.size() != c_.size()) throw std::invalid_argument("RegionSampler: a and c differ in length");
  for (std::size_t i = 0; i < a_.size(); ++i)
    if (!(a_[i] >= 0.0 && a_[i] <= 1.0 && c_[i] >= 0.0 && c_[i] <= 1.0))
      throw std::invalid_argument("RegionSampler: setting " + std::to_string(i) +
                                  " lies outside the unit square; normalise A and C first");
}

std::uint64_t RegionSampler::cell_of(double x, int level) {
  const std::uint64_t cells = std::uint64_t{1} << level;
  const auto cell = static_cast<std::uint64_t>(std::floor(x * static_cast<double>(cells)));
  return std::min(cell, cells - 1);
}

void RegionSampler::group_by_cell(int level,
                                  std::vector<std::pair<std::uint64_t, std::uint32_t>>& by_cell) const {
  const std::size_t n = a_.size();
  const std::uint64_t side = std::uint64_t{1} << level;
  const bool dense_grid = level <= 20 && side * side <= 4 * n;  // level <= 20: side^2 cannot overflow
  if (!dense_grid) {                                            // sparse grid: sort
    for (std::size_t i = 0; i < n; ++i)
      by_cell[i] = {(cell_of(a_[i], level) << 32) | cell_of(c_[i], level), static_cast<std::uint32_t>(i)};
    std::sort(by_cell.begin(), by_cell.end());
    return;
  }
  // Dense grid: a counting sort gives the same order in linear time (cells ascending, members in
  // setting order), which keeps a 10^6-setting search space linear in its size.
  std::vector<std::uint32_t> dense(n);
  std::vector<std::size_t> start(side * side + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    dense[i] = static_cast<std::uint32_t>(cell_of(a_[i], level) * side + cell_of(c_[i], level));
    ++start[dense[i] + 1];
  }
  for (std::size_t cell = 1; cell < start.size(); ++cell) start[cell] += start[cell - 1];
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t cell = dense[i];
    by_cell[start[cell]++] = {((cell / side) << 32) | (cell % side), static_cast<std::uint32_t>(i)};
  }
}

std::vector<std::size_t> RegionSampler::sample(std::size_t budget, SeededRng& rng,
                                               const std::vector<std::size_t>& already_finetuned) const {
  const std::size_t n = a_.size();
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("RegionSampler: more than 2^32 settings");
  std::vector<char> taken(n, 0);
  for (std::size_t i : already_finetuned) {
    if (i >= n) throw std::out_of_range("RegionSampler: finetuned setting index out of range");
    taken[i] = 1;
  }
  const auto left = static_cast<std::size_t>(std::count(taken.begin(), taken.end(), 0));
  if (budget > left)
    throw InputError("budget " + std::to_string(budget) + " is larger than the " + std::to_string(left) +
                     " settings left to sample");

  std::vector<std::size_t> drawn;
  drawn.reserve(budget);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_cell(n);  // (cell id, setting)
  std::vector<std::pair<std::size_t, std::size_t>> open_cells;      // [begin, end) in by_cell

  for (int level = 1; drawn.size() < budget; ++level) {
    if (level > kMaxLevel) {
      // Only settings that no grid separates from a sampled one are left: draw uniformly.
      std::vector<std::size_t> rest;
      for (std::size_t i = 0; i < n; ++i)
        if (!taken[i]) rest.push_back(i);
      while (drawn.size() < budget) {
        const std::size_t r = rng.below(rest.size());
        taken[rest[r]] = 1;
        drawn.push_back(rest[r]);
        rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(r));
      }
      break;
    }
    group_by_cell(level, by_cell);

    // Cells in (a-column, c-row) order; members in setting order. Empty cells never appear,
    // cells with a sampled setting are dropped.
    open_cells.clear();
    for (std::size_t begin = 0; begin < n;) {
      std::size_t end = begin;
      bool has_taken = false;
      while (end < n && by_cell[end].first == by_cell[begin].first)
        has_taken |= taken[by_cell[end++].second] != 0;
      if (!has_taken) open_cells.emplace_back(begin, end);
      begin = end;
    }
    while (!open_cells.empty() && drawn.size() < budget) {
      const std::size_t r = rng.below(open_cells.size());
      const auto [begin, end] = open_cells[r];
      const std::size_t pick = by_cell[begin + rng.below(end - begin)].second;
      taken[pick] = 1;
      drawn.push_back(pick);
      open_cells.erase(open_cells.begin() + static_cast<std::ptrdiff_t>(r));
    }
  }
  return drawn;
}

}  // namespace acsweep::law

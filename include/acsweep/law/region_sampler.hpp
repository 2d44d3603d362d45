#pragma once
// Region-based sampling of the settings to finetune (LAW.md, "Region-based sampling").
#include <cstdint>
#include <utility>
#include <vector>

#include "acsweep/law/seeded_rng.hpp"

namespace acsweep::law {

class RegionSampler {
 public:
  // Deepest grid level (2^32 x 2^32 cells). Points closer than 2^-32 in both normalised
  // coordinates share a cell at every level; once the levels are exhausted, the settings left
  // are drawn uniformly at random.
  static constexpr int kMaxLevel = 32;

  // a and c: the settings' min-max normalised scores, each in [0, 1].
  RegionSampler(std::vector<double> a, std::vector<double> c);

  // Cell coordinate of x in [0, 1] on a 2^level grid; x = 1 lies in the last cell.
  static std::uint64_t cell_of(double x, int level);

  // `budget` settings not in `already_finetuned`, in the order they were drawn. Cells that hold
  // an already-finetuned setting count as sampled. Throws InputError when fewer than `budget`
  // settings are left.
  std::vector<std::size_t> sample(std::size_t budget, SeededRng& rng,
                                  const std::vector<std::size_t>& already_finetuned = {}) const;

  std::size_t size() const { return a_.size(); }

 private:
  // Every setting as (cell id, setting), ascending, at `level`.
  void group_by_cell(int level, std::vector<std::pair<std::uint64_t, std::uint32_t>>& by_cell) const;

  std::vector<double> a_, c_;
};

}  // namespace acsweep::law

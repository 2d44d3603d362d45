#pragma once
// Where a run's time went, per rank: each working rank's tasks, busy and idle time, and of the idle
// time how much passed while a task it could run waited (rank 0 coordinates, unless alone).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "acsweep/runtime/scheduler.hpp"

namespace acsweep::sweep {

struct RankTimes {
  std::vector<double> busy, waited;
  std::vector<std::int64_t> tasks;

  explicit RankTimes(std::size_t ranks = 0) : busy(ranks, 0.0), waited(ranks, 0.0), tasks(ranks, 0) {}
  void add(const std::vector<runtime::RankTime>& ranks);
  // A line per working rank on stderr, idle time counted over `seconds`.
  void print(double seconds) const;
};

}  // namespace acsweep::sweep

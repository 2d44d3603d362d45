#pragma once
// Where a run's time went, per rank: each working rank's tasks, busy and idle time, and of the idle
// time how much passed while a task it could run waited (rank 0 coordinates, unless alone); and,
// at the end of a run, each rank's peak memory.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/runtime/world.hpp"

namespace acsweep::sweep {

struct RankTimes {
  std::vector<double> busy, waited;
  std::vector<std::int64_t> tasks;
  std::vector<std::int64_t> peak_bytes;  // by rank, once gathered (gather_peak_memory); else empty

  explicit RankTimes(std::size_t ranks = 0) : busy(ranks, 0.0), waited(ranks, 0.0), tasks(ranks, 0) {}
  void add(const std::vector<runtime::RankTime>& ranks);
  // A line per working rank on stderr, idle time counted over `seconds`.
  void print(double seconds) const;
};

// Collective over the world: every rank's peak memory so far (models/torch_runtime.hpp: its GPU's
// where it has one, else its resident set), on rank 0; empty on the others.
std::vector<std::int64_t> gather_peak_memory(const runtime::World& world);

}  // namespace acsweep::sweep

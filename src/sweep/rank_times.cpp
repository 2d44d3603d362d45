#include "acsweep/sweep/rank_times.hpp"

#include <cstdio>

#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace acsweep::sweep {

void RankTimes::add(const std::vector<runtime::RankTime>& ranks) {
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    busy[r] += ranks[r].busy_seconds;
    waited[r] += ranks[r].waited_seconds;
    tasks[r] += static_cast<std::int64_t>(ranks[r].tasks);
  }
}

void RankTimes::print(double seconds) const {
  for (std::size_t r = busy.size() == 1 ? 0 : 1; r < busy.size(); ++r) {
    std::fprintf(
        stderr, "  rank %zu: %lld tasks, busy %.2f s, idle %.2f s (%.0f%%; %.2f s of it with a task waiting)",
        r, static_cast<long long>(tasks[r]), busy[r], seconds - busy[r],
        seconds > 0 ? 100 * (seconds - busy[r]) / seconds : 0.0, waited[r]);
    if (r < peak_bytes.size())
      std::fprintf(stderr, ", peak memory %.2f GiB", static_cast<double>(peak_bytes[r]) / (1 << 30));
    std::fprintf(stderr, "\n");
  }
}

std::vector<std::int64_t> gather_peak_memory(const runtime::World& world) {
  // A working rank's GPU, where it has one; the coordinator of a larger world never uses one.
  const auto torch = models::torch_runtime();
  const bool gpu = torch.cuda_available && torch.cuda_devices > 0 && (world.rank() != 0 || world.size() == 1);
  const std::int64_t mine = models::peak_memory_bytes(gpu ? world.local_rank() % torch.cuda_devices : -1);
  std::vector<std::int64_t> all(world.rank() == 0 ? static_cast<std::size_t>(world.size()) : 0);
  runtime::check_mpi(MPI_Gather(&mine, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, 0, world.world()),
                     "MPI_Gather(peak memory)");
  return all;
}

}  // namespace acsweep::sweep

#include "acsweep/sweep/rank_times.hpp"

#include <cstdio>

namespace acsweep::sweep {

void RankTimes::add(const std::vector<runtime::RankTime>& ranks) {
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    busy[r] += ranks[r].busy_seconds;
    waited[r] += ranks[r].waited_seconds;
    tasks[r] += static_cast<std::int64_t>(ranks[r].tasks);
  }
}

void RankTimes::print(double seconds) const {
  for (std::size_t r = busy.size() == 1 ? 0 : 1; r < busy.size(); ++r)
    std::fprintf(
        stderr,
        "  rank %zu: %lld tasks, busy %.2f s, idle %.2f s (%.0f%%; %.2f s of it with a task waiting)\n", r,
        static_cast<long long>(tasks[r]), busy[r], seconds - busy[r],
        seconds > 0 ? 100 * (seconds - busy[r]) / seconds : 0.0, waited[r]);
}

}  // namespace acsweep::sweep

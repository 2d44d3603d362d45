#include "acsweep/data/prefetcher.hpp"

#include <sched.h>

namespace acsweep::data {

std::size_t loader_threads(std::int64_t configured) {
  if (configured >= 0) return static_cast<std::size_t>(configured);
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
    return static_cast<std::size_t>(std::max(CPU_COUNT(&cpus), 1));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace acsweep::data

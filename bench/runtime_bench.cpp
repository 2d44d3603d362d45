// Runtime benchmarks, each printing its own baseline beside it (bench/runtime.sh runs them all):
//   roundtrip N      N empty tasks through the scheduler vs N raw MPI ping-pongs (2+ ranks)
//   rows N W         N result rows of W doubles into a segment file (1 rank); prints bytes so the
//                    script can time dd writing as many
//   efficiency N     N tasks of random length (sleeps of 1-20 ms): makespan vs total work / workers
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/store/run_store.hpp"

using namespace acsweep;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<runtime::TaskDescriptor> tasks_of(std::size_t n, const std::string& kind) {
  std::vector<runtime::TaskDescriptor> tasks(n);
  for (std::size_t i = 0; i < n; ++i) {
    tasks[i].index = i;
    tasks[i].kind = kind;
    tasks[i].name = "t" + std::to_string(i);
  }
  return tasks;
}

void roundtrip(std::size_t n, const runtime::MpiSession& mpi) {
  runtime::TaskRegistry registry;
  registry.add("empty", [](const runtime::TaskDescriptor&) { return runtime::TaskResult{}; });
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = Clock::now();
  runtime::run_sweep(tasks_of(n, "empty"), registry, {}, 1, MPI_COMM_WORLD);
  const double sweep = seconds_since(start);
  // Baseline: rank 0 and rank 1 exchange n small messages, as bare as MPI allows.
  char byte = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  start = Clock::now();
  for (std::size_t i = 0; i < n && mpi.size() > 1; ++i) {
    if (mpi.rank() == 0) {
      runtime::check_mpi(MPI_Send(&byte, 1, MPI_BYTE, 1, 0, MPI_COMM_WORLD), "MPI_Send");
      runtime::check_mpi(MPI_Recv(&byte, 1, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    } else if (mpi.rank() == 1) {
      runtime::check_mpi(MPI_Recv(&byte, 1, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      runtime::check_mpi(MPI_Send(&byte, 1, MPI_BYTE, 0, 0, MPI_COMM_WORLD), "MPI_Send");
    }
  }
  const double raw = seconds_since(start);
  if (mpi.rank() == 0)
    std::printf("roundtrip: %zu tasks on %d ranks: %.1f us per task; raw MPI ping-pong %.1f us; ratio %.1f\n",
                n, mpi.size(), 1e6 * sweep / n, 1e6 * raw / n, sweep / raw);
}

void rows(std::size_t n, std::size_t width, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto tasks = tasks_of(n, "row");
  store::SegmentFile file(dir + "/segment.h5", MPI_COMM_WORLD, tasks, width, {1, "bench", "", 0, 1});
  std::vector<double> values(width, 0.5);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < n; ++i) file.record_done(i, values, 0.1, 0, 1);
  file.flush();
  const double seconds = seconds_since(start);
  file.close();
  const std::size_t bytes = n * (width * 8 + 8 + 4 + 4 + 1);
  std::printf("rows: %zu rows of %zu values (%zu bytes) in %.3f s: %.1f MB/s, %.0f rows/s\n", n, width, bytes,
              seconds, bytes / seconds / 1e6, n / seconds);
  std::printf("BYTES %zu SECONDS %.6f\n", bytes, seconds);
}

void efficiency(std::size_t n, const runtime::MpiSession& mpi) {
  std::mt19937_64 gen(42);
  std::uniform_int_distribution<int> ms(1, 20);
  auto tasks = tasks_of(n, "sleep");
  double work = 0;
  for (auto& t : tasks) {
    const int length = ms(gen);
    t.inputs["ms"] = std::to_string(length);
    t.cost = length;
    work += length / 1000.0;
  }
  runtime::TaskRegistry registry;
  registry.add("sleep", [](const runtime::TaskDescriptor& t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(t.inputs.at("ms"))));
    return runtime::TaskResult{};
  });
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = Clock::now();
  runtime::run_sweep(tasks, registry, {}, 1, MPI_COMM_WORLD);
  const double makespan = seconds_since(start);
  const int workers = mpi.size() == 1 ? 1 : mpi.size() - 1;
  if (mpi.rank() == 0)
    std::printf(
        "efficiency: %zu tasks, %.2f s of work, %d worker(s): makespan %.3f s, ideal %.3f s, "
        "efficiency %.1f%%\n",
        n, work, workers, makespan, work / workers, 100.0 * work / workers / makespan);
}

}  // namespace

int main(int argc, char** argv) {
  runtime::MpiSession mpi(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
  if (mode == "roundtrip")
    roundtrip(n, mpi);
  else if (mode == "rows")
    rows(n, argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 16, argc > 4 ? argv[4] : "/tmp/acsweep-bench");
  else if (mode == "efficiency")
    efficiency(n, mpi);
  else {
    std::fprintf(stderr, "usage: runtime_bench roundtrip N | rows N WIDTH [DIR] | efficiency N\n");
    return 2;
  }
  return 0;
}

#include "acsweep/sweep/phases.hpp"

#include <chrono>
#include <cstdio>

#include "acsweep/runtime/mpi.hpp"

namespace acsweep::sweep {
namespace {

using Clock = std::chrono::steady_clock;

// Progress on stderr at most once a second: done, failed, rate and time left.
class Progress {
 public:
  void operator()(std::size_t done, std::size_t failed, std::size_t total) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (elapsed - last_ < 1.0 && done + failed < total) return;
    last_ = elapsed;
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done - failed) / rate : 0;
    std::fprintf(stderr, "acsweep [coordinator] %zu/%zu tasks done, %zu failed, %.1f tasks/s, ETA %.0f s\n",
                 done, total, failed, rate, eta);
  }

 private:
  Clock::time_point start_ = Clock::now();
  double last_ = -1.0;
};

}  // namespace

PhasesReport run_phases(const JobPlan& plan, const runtime::JobSpec& job, const runtime::World& world,
                        const runtime::TaskRegistry& registry, runtime::SweepHooks hooks, TaskRows& rows) {
  runtime::WorkerGroups groups;
  for (const auto& role : world.roles()) groups.group_of_rank.push_back(role.group);
  if (world.group() != MPI_COMM_NULL) groups.this_rank_group = world.group();

  PhasesReport out;
  out.scheduled.assign(plan.tasks.size(), false);
  out.times = RankTimes(static_cast<std::size_t>(world.size()));
  std::vector<std::size_t> phase_tasks = plan.first_phase;
  for (std::size_t phase = 0;; ++phase) {
    std::vector<runtime::TaskDescriptor> to_run;
    for (const auto t : phase_tasks) {
      out.scheduled[t] = true;
      if (!rows[t]) to_run.push_back(plan.tasks[t]);
    }
    if (world.rank() == 0 && phase > 0)
      std::fprintf(stderr, "acsweep: phase %s: %zu tasks, %zu done earlier, %zu to run\n",
                   plan.phase_names.at(phase).c_str(), phase_tasks.size(), phase_tasks.size() - to_run.size(),
                   to_run.size());
    hooks.progress = Progress();
    const runtime::SweepReport report =
        run_sweep(to_run, registry, hooks, job.max_attempts, world.world(), 0, groups);
    if (world.rank() == 0) {
      for (const auto& result : report.results)
        if (result) rows[result->index] = result->values;
      out.failed += report.failed.size();
      out.pending += report.pending;
      out.stopped = report.stopped;
      out.phase_seconds.push_back(report.seconds);
      std::fprintf(stderr, "acsweep: phase %s took %.2f s\n", plan.phase_names.at(phase).c_str(),
                   report.seconds);
      RankTimes phase_times(report.ranks.size());
      phase_times.add(report.ranks);
      if (to_run.empty())
        std::fprintf(stderr, "  nothing to run: every task of this phase was done earlier\n");
      else
        phase_times.print(report.seconds);
      out.times.add(report.ranks);
    }
    int more = 0;
    runtime::on_root_then_share_errors(0, world.world(), [&] {
      phase_tasks.clear();
      if (!out.stopped && plan.next_phase) phase_tasks = plan.next_phase(phase, rows);
      more = phase_tasks.empty() ? 0 : 1;
    });
    runtime::broadcast(more, 0, world.world());
    if (!more) break;
  }
  return out;
}

}  // namespace acsweep::sweep

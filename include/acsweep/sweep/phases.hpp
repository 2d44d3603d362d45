#pragma once
// The phases of a run (shared/spec/ARCHITECTURE.md, "Pipeline"): each is a sweep over the world of
// the tasks it names that are not done yet; after each, the coordinator picks the next phase's
// tasks from the rows so far (JobPlan::next_phase) and every rank follows. A scoring sweep with
// the AC policy has two (score, then finetune the pick); other jobs have one.
#include <cstddef>
#include <vector>

#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/sweep/job_plan.hpp"
#include "acsweep/sweep/rank_times.hpp"
#include "acsweep/sweep/task_rows.hpp"

namespace acsweep::sweep {

struct PhasesReport {  // rank 0's; on the other ranks only `scheduled` is set
  std::size_t failed = 0, pending = 0;
  bool stopped = false;               // by a signal: the rest is pending
  std::vector<double> phase_seconds;  // of each phase that ran
  RankTimes times;                    // over all phases
  std::vector<bool> scheduled;        // by task: in some phase
};

// Collective over the world. `rows` holds the results carried from earlier segments and receives
// this run's (on rank 0); a phase runs only its tasks without a row. `hooks` persist each result
// and failure; their progress is set here.
PhasesReport run_phases(const JobPlan& plan, const runtime::JobSpec& job, const runtime::World& world,
                        const runtime::TaskRegistry& registry, runtime::SweepHooks hooks, TaskRows& rows);

}  // namespace acsweep::sweep

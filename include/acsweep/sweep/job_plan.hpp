#pragma once
// What a run needs of a job, whatever its kind (shared/spec/ARCHITECTURE.md, "Pipeline"): the
// tasks, the shape of their results, how to run them, which run in which phase, and what to make
// of them once all are in (on the coordinator). A job is a policy simulation sharded into tasks,
// or a scoring sweep: one task per setting, then the finetunes (a given list, or the AC policy's
// pick once every A and C is in).
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/sweep/scoring_plan.hpp"
#include "acsweep/sweep/simulation_job.hpp"
#include "acsweep/sweep/task_rows.hpp"

namespace acsweep::sweep {

struct JobPlan {
  std::vector<runtime::TaskDescriptor> tasks;
  std::size_t width = 0;
  std::map<std::string, std::size_t> sample_widths;
  std::function<void(runtime::TaskRegistry&)> register_tasks;
  std::vector<std::string> phase_names{"tasks"};
  std::vector<std::size_t> first_phase;  // task indices
  // On rank 0 after phase `phase` (0-based) with the rows so far: the next phase's task indices
  // (empty: none). Null: one phase.
  std::function<std::vector<std::size_t>(std::size_t phase, const TaskRows&)> next_phase;
  std::function<void(store::H5File&, const TaskRows&)> summarise;
  // The kind's own plan: exactly one is set.
  std::shared_ptr<const ScoringPlan> scoring;
  std::shared_ptr<const SimulationPlan> simulation;
};

// Every rank plans alike from the same files, so every rank has the same tasks. `job` and `world`
// must outlive the plan.
JobPlan plan_job(const runtime::JobSpec& job, const runtime::World& world);

}  // namespace acsweep::sweep

#pragma once
// The policy simulation job for `acsweep run`: its plan, its task kind and its summary. One task
// per (table, counting, sampler, budget, range of runs), where `[simulation] counting = both`
// counts every table both ways; the same seed gives the same numbers however the
// runs are sharded and scheduled, because run r always draws from derive_seed(seed, {sampler,
// budget, r}).
#include <string>
#include <vector>

#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/sweep/task_rows.hpp"

namespace acsweep::sweep {

struct SimulationPlan {
  std::vector<law::LawTable> tables;
  std::vector<std::string> table_names;  // file stems: group names in the results
  // One per (table, counting), tables in order, exact before first-hit: specs[e] simulates
  // tables[spec_table[e]].
  std::vector<law::SimulationSpec> specs;
  std::vector<std::size_t> spec_table;
  std::vector<runtime::TaskDescriptor> tasks;
  std::size_t width = 0;  // values per task row
};

// Reads the tables and plans the tasks; InputError naming the job file's key on a bad budget.
SimulationPlan plan_simulation(const runtime::JobSpec& job);

void register_simulation_tasks(runtime::TaskRegistry& registry, const SimulationPlan& job);

// /policy/<table>/simulation (and /policy/<table>/simulation_first_hit beside the exact one,
// under counting = both): per table and counting, the recall curves from every task row (all must be
// present), also printed as tables on stdout.
void write_simulation_summary(store::H5Location& root, const SimulationPlan& job, const TaskRows& rows);

}  // namespace acsweep::sweep

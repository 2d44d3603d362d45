#pragma once
// The policy simulation as a sharded job for `acsweep run`: one task per (table, sampler,
// budget, range of runs). The same seed gives the same numbers however the runs are sharded
// and scheduled, because run r always draws from derive_seed(seed, {sampler, budget, r}).
#include <optional>
#include <string>
#include <vector>

#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/runtime/scheduler.hpp"

namespace acsweep::cli {

struct SimulationJob {
  std::vector<law::LawTable> tables;
  std::vector<std::string> table_names;  // file stems: group names in the results
  std::vector<law::SimulationSpec> specs;
  std::vector<runtime::TaskDescriptor> tasks;
  std::size_t width = 0;  // values per task row
};

// Reads the tables and plans the tasks; InputError naming the job file's key on a bad budget.
SimulationJob plan_simulation(const runtime::JobSpec& job);

void register_simulation_tasks(runtime::TaskRegistry& registry, const SimulationJob& job);

// Per table, the recall curves from the values of every task row (all rows must be present).
std::vector<law::SimulationResult> summarise_simulation(
    const SimulationJob& job, const std::vector<std::optional<std::vector<double>>>& rows);

}  // namespace acsweep::cli

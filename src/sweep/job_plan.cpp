#include "acsweep/sweep/job_plan.hpp"

#include <cstdio>

#include "acsweep/sweep/policy.hpp"
#include "acsweep/sweep/scoring_summary.hpp"
#include "acsweep/sweep/scoring_tasks.hpp"

namespace acsweep::sweep {
namespace {

std::vector<std::size_t> every_index(std::size_t first, std::size_t last) {
  std::vector<std::size_t> out;
  for (std::size_t i = first; i < last; ++i) out.push_back(i);
  return out;
}

}  // namespace

JobPlan plan_job(const runtime::JobSpec& job, const runtime::World& world) {
  JobPlan plan;
  if (job.scoring) {
    auto scoring = std::make_shared<const ScoringPlan>(plan_scoring(job));
    plan.tasks = scoring->tasks;
    plan.first_phase = every_index(0, plan.tasks.size());
    const bool policy = job.scoring->finetune && job.scoring->finetune->policy;
    auto pick = std::make_shared<PolicyPick>();
    if (policy) {  // score every setting, then finetune the policy's pick
      plan.phase_names = {"score", "finetune"};
      plan.first_phase = every_index(0, scoring->score_tasks);
      plan.next_phase = [scoring, pick, &job](std::size_t phase, const TaskRows& rows) {
        if (phase > 0) return std::vector<std::size_t>{};
        *pick = pick_settings(*scoring, job, rows);
        return finetune_tasks_for(*scoring, job, *pick);
      };
    }
    plan.width = scoring->width();
    plan.sample_widths = scoring->sample_widths();
    plan.register_tasks = [scoring, &job, &world](runtime::TaskRegistry& registry) {
      register_scoring_tasks(registry, *scoring, job, world.rank(), world.local_rank());
    };
    plan.summarise = [scoring, pick, policy, &job](store::H5File& file, const auto& rows) {
      for (const auto& why : scoring->skipped) std::fprintf(stderr, "acsweep: left out: %s\n", why.c_str());
      write_scoring_summary(file, *scoring, job, rows);
      if (policy) write_policy(file, *scoring, job, rows, *pick);
    };
    plan.scoring = scoring;
    return plan;
  }
  auto sim = std::make_shared<const SimulationPlan>(plan_simulation(job));
  plan.tasks = sim->tasks;
  plan.first_phase = every_index(0, plan.tasks.size());
  plan.width = sim->width;
  plan.register_tasks = [sim](runtime::TaskRegistry& registry) { register_simulation_tasks(registry, *sim); };
  plan.summarise = [sim](store::H5File& file, const TaskRows& rows) {
    write_simulation_summary(file, *sim, rows);
  };
  plan.simulation = sim;
  return plan;
}

}  // namespace acsweep::sweep

#include "acsweep/sweep/job_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/world.hpp"
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

// Rank 0 plans first and alone looks at every training image (665K files for LLaVA-665K); the
// other ranks then plan from the same files, taking its list of missing images, so they touch no
// image and leave out the same items. An error on rank 0 ends every rank with its message.
ScoringPlan plan_scoring_once(const runtime::JobSpec& job, const runtime::World& world) {
  if (world.size() == 1) return plan_scoring(job);
  std::optional<ScoringPlan> plan;
  MissingImages found;
  runtime::on_root_then_share_errors(0, world.world(), [&] {
    plan = plan_scoring(job);
    found = plan->missing;
  });
  runtime::broadcast(found.stage1, 0, world.world());
  runtime::broadcast(found.stage2, 0, world.world());
  return plan ? std::move(*plan) : plan_scoring(job, &found);
}

}  // namespace

JobPlan plan_job(const runtime::JobSpec& job, const runtime::World& world) {
  JobPlan plan;
  if (job.scoring) {
    auto scoring = std::make_shared<const ScoringPlan>(plan_scoring_once(job, world));
    plan.tasks = scoring->tasks;
    plan.first_phase = every_index(0, plan.tasks.size());
    const bool policy = job.scoring->finetune && job.scoring->finetune->policy;
    auto pick = std::make_shared<PolicyPick>();
    if (policy) {  // score every setting, then finetune the policy's pick
      const auto& f = *job.scoring->finetune;
      const bool sequential = f.sampler == "sequential";
      // A sequential round picks as many settings as there are worker groups, so none waits.
      const std::size_t round_size = static_cast<std::size_t>(std::max(1, world.layout().groups));
      plan.phase_names = {"score", "finetune"};
      for (std::size_t r = 2; sequential && r <= f.budget; ++r)
        plan.phase_names.push_back("finetune round " + std::to_string(r));
      plan.first_phase = every_index(0, scoring->score_tasks);
      plan.next_phase = [scoring, pick, &job, sequential, round_size](std::size_t phase,
                                                                      const TaskRows& rows) {
        if (phase == 0) {
          *pick = pick_settings(*scoring, job, rows, round_size);
          return finetune_tasks_for(*scoring, job, *pick);
        }
        if (!sequential) return std::vector<std::size_t>{};
        if (job.scoring->finetune->validate) {  // every setting finetuned: the rounds from the truth
          while (!next_round(*scoring, job, rows, *pick, round_size).empty()) {
          }
          return std::vector<std::size_t>{};
        }
        return finetune_tasks_of(*scoring, next_round(*scoring, job, rows, *pick, round_size));
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

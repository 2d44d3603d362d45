// The scoring sweep's task kinds registered on a rank: "score" (score_task.hpp) on one rank or a
// whole group, and "finetune" (finetune_task.hpp) on a whole group. Both share the rank's state,
// loaded by the first task that runs there.
#include "acsweep/sweep/scoring_tasks.hpp"

#include <memory>

#include "acsweep/sweep/finetune_task.hpp"
#include "acsweep/sweep/rank_state.hpp"
#include "acsweep/sweep/score_task.hpp"

namespace acsweep::sweep {

void register_scoring_tasks(runtime::TaskRegistry& registry, const ScoringPlan& plan,
                            const runtime::JobSpec& job, int rank, int local_rank) {
  auto state = std::make_shared<std::shared_ptr<RankState>>();
  registry.add("score", [state, &plan, &job, rank, local_rank](const runtime::TaskDescriptor& task) {
    if (!*state) *state = load_rank_state(plan, *job.scoring, local_rank);
    return score_setting(**state, plan, job, task, rank, MPI_COMM_SELF);
  });
  registry.add_group(
      "score", [state, &plan, &job, rank, local_rank](const runtime::TaskDescriptor& task, MPI_Comm group) {
        if (!*state) *state = load_rank_state(plan, *job.scoring, local_rank);
        return score_setting(**state, plan, job, task, rank, group);
      });
  auto finetune = std::make_shared<std::shared_ptr<FinetuneData>>();
  registry.add_group("finetune", [state, finetune, &plan, &job, rank, local_rank](
                                     const runtime::TaskDescriptor& task, MPI_Comm group) {
    if (!*state) *state = load_rank_state(plan, *job.scoring, local_rank);
    if (!*finetune)
      *finetune =
          load_finetune_data(*job.scoring->finetune, *(*state)->tokenizer,
                             data::chat_template_named(job.scoring->llm.chat_template), plan.missing.stage2);
    return finetune_setting(**state, **finetune, job, task, group, rank);
  });
}

}  // namespace acsweep::sweep

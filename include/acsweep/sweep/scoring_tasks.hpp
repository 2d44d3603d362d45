#pragma once
// The scoring sweep's task kinds on a rank's registry (score_task.hpp, finetune_task.hpp), behind
// a header without LibTorch's, so that only they pay for its headers.
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/sweep/scoring_plan.hpp"

namespace acsweep::sweep {

// The "score" task kind (single-rank, or whole-group with [stage1] data_parallel), and the
// whole-group "finetune" kind. `rank` and `local_rank` name the rank in progress lines and pick a
// GPU.
void register_scoring_tasks(runtime::TaskRegistry& registry, const ScoringPlan& plan,
                            const runtime::JobSpec& job, int rank, int local_rank);

}  // namespace acsweep::sweep

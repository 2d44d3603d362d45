#pragma once
// The scoring sweep's task kinds (src/cli/scoring_tasks.cpp), apart from its plan so that only
// they pay for LibTorch's headers.
#include "acsweep/cli/scoring_job.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/scheduler.hpp"

namespace acsweep::cli {

// The "score" task kind (single-rank, or whole-group with [stage1] data_parallel), and the
// whole-group "finetune" kind. `rank` and `local_rank` name the rank in progress lines and pick a
// GPU.
void register_scoring_tasks(runtime::TaskRegistry& registry, const ScoringJob& plan,
                            const runtime::JobSpec& job, int rank, int local_rank);

}  // namespace acsweep::cli

#pragma once
// The "score" task kind of a scoring sweep: one setting's A and C. It trains (or reads back) the
// setting's Stage-1 projector, and those of the [a_score] references not saved yet, measures A on
// the held-out manifest and C on the keypoint pairs; its values are listed in scoring_plan.hpp.
// On one rank, or with [stage1] data_parallel on every rank of `group`: they train the Stage-1
// projectors together, then the group's rank 0 measures A and C alone and its result is the
// task's (the other ranks return an empty one).
#include <mpi.h>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/sweep/rank_state.hpp"
#include "acsweep/sweep/scoring_plan.hpp"

namespace acsweep::sweep {

runtime::TaskResult score_setting(RankState& state, const ScoringPlan& plan, const runtime::JobSpec& job,
                                  const runtime::TaskDescriptor& task, int rank, MPI_Comm group);

}  // namespace acsweep::sweep

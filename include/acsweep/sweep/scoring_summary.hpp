#pragma once
// What a scoring sweep measured, once every task has ended (on the coordinator): /scores (setting
// names, the summary columns, the manifest and the pairs), /known and /finetune, each also
// printed as a table on stdout.
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/sweep/scoring_plan.hpp"
#include "acsweep/sweep/task_rows.hpp"

namespace acsweep::sweep {

void write_scoring_summary(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                           const TaskRows& rows);

}  // namespace acsweep::sweep

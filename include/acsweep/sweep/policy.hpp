#pragma once
// The AC policy inside a scoring sweep (shared/spec/ARCHITECTURE.md, "Pipeline", steps 3 and 5;
// shared/spec/LAW.md, "Region-based sampling" and "AC policy"), on the coordinator:
//  - once every score task has ended, the settings with a finite A and C are min-max normalised
//    over themselves and region-based sampling draws the job's budget of them (seeded by the
//    job's seed, so a rerun draws the same); settings with [known] results count as already
//    sampled and finetuned, so it draws that many fewer;
//  - once their finetunes are in, per benchmark the Law is fitted on them, every scored setting
//    predicted and ranked (finetuned ones keep their measured value): /policy/<benchmark>;
//  - with [job] validate, every setting was finetuned too: the true best per benchmark, whether
//    this run's shortlist held it, the Law fitted on all settings, and Recall@1/@3 of the policy
//    against random selection at every budget over 1000 seeded runs on the measured table:
//    /validation, and the table as <output>/measured.csv for `acsweep law` and `acsweep policy`.
#include <cstddef>
#include <vector>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/sweep/scoring_plan.hpp"
#include "acsweep/sweep/task_rows.hpp"

namespace acsweep::sweep {

struct PolicyPick {
  std::vector<std::size_t> scored;                // settings with a finite A and C, in [search] order
  std::vector<double> alignment, correspondence;  // their A and C
  std::vector<std::size_t> known;                 // scored settings with [known] results: finetuned before
  std::vector<std::size_t> sampled;               // settings drawn to finetune, in the order drawn

  std::vector<std::size_t> finetuned() const;  // known, then sampled: the settings the Law is fitted on
};

// std::runtime_error when fewer than two settings were scored (nothing to normalise over).
PolicyPick pick_settings(const ScoringPlan& plan, const runtime::JobSpec& job, const TaskRows& rows);

// The finetune tasks to run: the pick's, or with validation every scored setting's ([known] ones
// have none).
std::vector<std::size_t> finetune_tasks_for(const ScoringPlan& plan, const runtime::JobSpec& job,
                                            const PolicyPick& pick);

// Fits, rankings and (with validation) the judgement; printed on stdout.
void write_policy(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                  const TaskRows& rows, const PolicyPick& pick);

}  // namespace acsweep::sweep

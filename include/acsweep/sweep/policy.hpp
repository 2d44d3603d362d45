#pragma once
// The AC policy inside a scoring sweep (shared/spec/ARCHITECTURE.md, "Pipeline", steps 3 and 5;
// shared/spec/LAW.md, "Region-based sampling" and "AC policy"), on the coordinator:
//  - once every score task has ended, the settings with a finite A and C are min-max normalised
//    over themselves and region-based sampling draws the job's budget of them (seeded by the
//    job's seed, so a rerun draws the same); settings with [known] results count as already
//    sampled and finetuned, so it draws that many fewer. [job] sampler = random draws uniformly;
//    sequential draws in rounds, each after the last round's finetunes (next_round);
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
  // Per sampled setting, why ([job] sampler = sequential): the round it was picked in (1, 2, ...),
  // its share of the posterior draws in which it is the best setting, its expected improvement over
  // the best measured value (what it was picked by), and its predicted value and that prediction's
  // sd, in normalised units (law::SequentialPick; NaN where region sampling drew it).
  std::vector<std::int64_t> round;
  std::vector<double> chance, gain, predicted, sd;
  std::size_t budget = 0;  // the settings to finetune, known ones included

  std::vector<std::size_t> finetuned() const;  // known, then sampled: the settings the Law is fitted on
};

// The settings to finetune first. region: the whole budget by region-based sampling; random:
// drawn uniformly; sequential: the first round, `round_size` settings (as many as there are worker
// groups, so none waits), the rest by next_round. std::runtime_error when fewer than two settings
// were scored (nothing to normalise over).
PolicyPick pick_settings(const ScoringPlan& plan, const runtime::JobSpec& job, const TaskRows& rows,
                         std::size_t round_size = 1);

// [job] sampler = sequential: the next round's settings (appended to the pick), chosen from the
// fit to every finetune measured so far (law::SequentialSampler: expected improvement under the
// Bayesian quadratic); none once the budget is drawn. Seeded by the job's seed and the round.
std::vector<std::size_t> next_round(const ScoringPlan& plan, const runtime::JobSpec& job,
                                    const TaskRows& rows, PolicyPick& pick, std::size_t round_size);

// The finetune tasks to run: the pick's, or with validation every scored setting's ([known] ones
// have none).
std::vector<std::size_t> finetune_tasks_for(const ScoringPlan& plan, const runtime::JobSpec& job,
                                            const PolicyPick& pick);
// The finetune tasks of `settings` ([known] ones have none).
std::vector<std::size_t> finetune_tasks_of(const ScoringPlan& plan, const std::vector<std::size_t>& settings);

// Fits, rankings and (with validation) the judgement; printed on stdout.
void write_policy(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                  const TaskRows& rows, const PolicyPick& pick);

}  // namespace acsweep::sweep

#pragma once
// The plan of a scoring sweep, a job for `acsweep run` (shared/spec/ARCHITECTURE.md, "Pipeline", step 2):
// one task per setting, run by whichever rank is idle. A task trains the setting's Stage-1
// projector (saved under <output>/stage1/), measures A on the held-out manifest and C on the
// keypoint pairs, and returns
//   values:     A, C (pooled over keypoints), C per image (pairs averaged), A_similarity (the
//               paper code's variant; NaN when no reference is set), Stage-1 final loss,
//               Stage-1 captions, captions too long for the context
//   per_sample: A (per held-out caption), C_correct (1/0 per keypoint, pairs in order),
//               C_per_pair, C_per_category (categories sorted), stage1_loss (per step)
// With [finetune], each chosen setting not in [known] also gets a whole-group task: its Stage-1 projector
// (read back or trained), Stage 2 data-parallel over the worker group (checkpoints under
// <output>/stage2/<hash>/, resumed by a rerun), then every benchmark, returning
//   values:     each benchmark's score ([benchmarks] order), Stage-2 final loss, conversations too
//               long for the context, the peak memory of the group's largest rank (bytes)
//   per_sample: <benchmark>_correct (1/0 per item), stage2_loss (per step)
// Every rank plans alike from the same files: the manifest (drawn with the job's seed), the
// pairs, the benchmarks, the task hashes.
#include <map>
#include <string>
#include <vector>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/sweep/known_results.hpp"

namespace acsweep::sweep {

// The items of the Stage-1 and Stage-2 LLaVA files whose image is missing (places in each file):
// found by the rank that plans, the only one that looks at every image, and handed to the others.
struct MissingImages {
  std::vector<std::size_t> stage1, stage2;
};

struct ScoringPlan {
  std::vector<runtime::TaskDescriptor> tasks;  // one per setting, in [search] order, then the finetunes
  std::size_t score_tasks = 0;
  std::vector<std::size_t> finetune_task;   // by setting: its finetune task's index, or npos
  std::vector<std::string> heldout_ids;     // the A manifest, in drawn order
  std::vector<std::size_t> heldout, train;  // indices into the caption file's usable items
  std::vector<std::string> pair_names, pair_categories, categories;
  std::vector<std::int64_t> pair_keypoints;
  std::size_t keypoints = 0;
  std::size_t stage1_steps = 0;  // at most, per setting
  std::size_t stage2_steps = 0;  // at most, per finetune
  std::vector<std::string> benchmark_names;
  std::vector<std::size_t> benchmark_items;
  std::vector<std::string> skipped;  // caption items, pairs and benchmark lines left out, with why
  KnownResults known;                // [known]: these settings are not finetuned, their results are given
  MissingImages missing;

  static const std::vector<std::string>& value_names();  // of a score task's row
  std::vector<std::string> finetune_value_names() const;
  std::size_t width() const;
  std::map<std::string, std::size_t> sample_widths() const;
  // What sets the width of per-sample series `name`, as a reader of the job file finds it.
  static std::string sample_width_source(const std::string& name);
};

// InputError naming the file or key when the data cannot make a sweep (too few captions for the
// manifest, no valid pair).
// `found`: the missing images as the planning rank found them (read_llava_json's known_missing);
// without it every image is checked here.
ScoringPlan plan_scoring(const runtime::JobSpec& job, const MissingImages* found = nullptr);

}  // namespace acsweep::sweep

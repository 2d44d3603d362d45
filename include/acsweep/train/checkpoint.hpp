#pragma once
// Training checkpoints of a worker group (written by its rank 0): the trainable weights, the
// optimizer's moments and step, the schedule position and data cursor (the optimizer step: the
// data order is a function of the seed and the epoch), and the loss curve so far. Written as
// <dir>/checkpoint-<step>.tmp-<pid>/, renamed to <dir>/checkpoint-<step>/, then a DONE file:
// a directory without DONE is never read. Resume reads the newest complete one.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/train/adamw.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {

struct TrainingCursor {
  std::int64_t step = 0;          // optimizer steps done
  std::vector<double> step_loss;  // one per step done
};

void save_checkpoint(const std::string& dir,
                     const std::vector<std::pair<std::string, torch::Tensor>>& trainable, AdamW& optimizer,
                     const TrainingCursor& cursor);

// The step of the newest complete checkpoint in `dir`, if any.
std::optional<std::int64_t> latest_checkpoint(const std::string& dir);

// Restores weights, optimizer and cursor from a checkpoint of any kind (unsharded, or sharded at
// any level and group size); InputError naming the file when something is missing or does not
// fit (a checkpoint of another model).
TrainingCursor load_checkpoint(const std::string& dir, std::int64_t step,
                               const std::vector<std::pair<std::string, torch::Tensor>>& trainable,
                               AdamW& optimizer);

// Sharded checkpoints of a ShardedAdamW, written by every rank of the group in parallel:
// <dir>/checkpoint-<step>.tmp-sharded/shard-<r>-of-<W>.safetensors (the rank's master weights and
// moments of each bucket, streamed from memory), then, once every rank's shard is complete, group
// rank 0 writes manifest.json (the group size, the buckets and their parameters) and state.json,
// renames the folder and writes DONE. Every rank raises when any rank failed.
void save_sharded_checkpoint(const std::string& dir, ShardedAdamW& optimizer, const TrainingCursor& cursor);

// Restores a checkpoint written at any shard level (none included) and any group size: each rank
// reads, parameter by parameter, the elements its own shards cover, wherever the checkpoint's
// layout put them (buckets by size, a unit per layer, or whole tensors), and the weights are
// all-gathered into the parameters. InputError naming the file when the checkpoint is incomplete
// or of another model.
TrainingCursor load_sharded_checkpoint(const std::string& dir, std::int64_t step, ShardedAdamW& optimizer);

// Removes all but the newest `keep` complete checkpoints in `dir` (keep 0: none removed), and
// whatever a killed write or prune left there (temporaries, folders without DONE). Called after a
// checkpoint is published, when no other write is under way in `dir`.
void prune_checkpoints(const std::string& dir, std::int64_t keep);

}  // namespace acsweep::train

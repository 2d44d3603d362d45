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

// Restores weights, optimizer and cursor; InputError naming the file when something is missing
// or does not fit (a checkpoint of another model).
TrainingCursor load_checkpoint(const std::string& dir, std::int64_t step,
                               const std::vector<std::pair<std::string, torch::Tensor>>& trainable,
                               AdamW& optimizer);

}  // namespace acsweep::train

#pragma once
// A training whose loss is no longer finite has diverged: from the next step on its weights are
// NaN, and a score or benchmark computed from them would be a silent NaN in the results. Each
// step's loss is checked once it is summed over the group (the same number on every rank, so every
// rank stops at the same step and none is left waiting in a collective) and before the optimizer
// takes its gradients.
// Final: the same data, seed and rate diverge again, so the task is not tried again.
#include <cmath>
#include <cstdint>
#include <string>

#include "acsweep/error.hpp"

namespace acsweep::train {

class TrainingDiverged : public FinalFailure {
 public:
  using FinalFailure::FinalFailure;
};

// `step` counts from 1. TrainingDiverged naming the stage and the step when `loss` is NaN or infinite.
inline void check_loss_finite(const std::string& stage, double loss, std::int64_t step, std::int64_t steps) {
  if (std::isfinite(loss)) return;
  throw TrainingDiverged(stage + ": the loss of step " + std::to_string(step) + " of " +
                         std::to_string(steps) + " is " + (std::isnan(loss) ? "NaN" : "infinite") +
                         ": the training diverged and its weights are not used (a lower learning rate, a "
                         "longer warmup or max_grad_norm may keep it finite)");
}

}  // namespace acsweep::train

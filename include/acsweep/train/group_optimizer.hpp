#pragma once
// The optimizer of a worker group, as a training loop drives it: replicated (every rank
// all-reduces whole gradients through a GradientReducer and steps the whole AdamW) or sharded
// (train/sharded_adamw.hpp), with the checkpoints of each. Per step: zero_grad(); for every
// micro-step, before_last_backward() ahead of this rank's last backward, then after_backward()
// (on every rank alike, a rank without data calling it without a backward); reduce(); clip();
// step().
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/train/adamw.hpp"
#include "acsweep/train/checkpoint.hpp"
#include "acsweep/train/reducer.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {

class GroupOptimizer {
 public:
  // `named` must outlive the optimizer; the loss is prescaled (the sum over ranks is the mean).
  // `units`: what shard level parameters gathers (ShardedAdamW), empty at every other level.
  GroupOptimizer(const std::vector<std::pair<std::string, torch::Tensor>>& named, AllReduce& group, int rank,
                 ShardLevel shard, AdamWOptions adamw,
                 const std::vector<std::vector<std::size_t>>& units = {});
  void zero_grad();
  void before_last_backward();  // replicated: the reductions start as the backward goes
  void after_backward();
  void reduce();
  void clip(double max_norm);  // to a norm over the whole group, as clip_grad_norm_
  void step(double learning_rate);
  TrainingCursor load(const std::string& dir, std::int64_t step);
  // Sharded: every rank writes its shard; replicated: group rank 0 writes it all.
  void save(const std::string& dir, const TrainingCursor& cursor);
  ShardedAdamW* sharded() { return shards_.get(); }  // null when replicated

 private:
  const std::vector<std::pair<std::string, torch::Tensor>>& named_;
  int rank_;
  std::unique_ptr<GradientReducer> reducer_;
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<ShardedAdamW> shards_;
};

}  // namespace acsweep::train

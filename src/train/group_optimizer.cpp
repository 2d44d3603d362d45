#include "acsweep/train/group_optimizer.hpp"

#include <stdexcept>

namespace acsweep::train {

GroupOptimizer::GroupOptimizer(const std::vector<std::pair<std::string, torch::Tensor>>& named,
                               AllReduce& group, int rank, ShardLevel shard, AdamWOptions adamw,
                               const std::vector<std::vector<std::size_t>>& units)
    : named_(named), rank_(rank) {
  if (shard != ShardLevel::none) {
    shards_ = std::make_unique<ShardedAdamW>(named, group, rank, shard, adamw, std::size_t{1} << 20,
                                             25u << 20, units);
    return;
  }
  std::vector<torch::Tensor> trainable;
  for (const auto& [name, p] : named) {
    if (p.scalar_type() != torch::kFloat32)
      throw std::invalid_argument(
          "'" + name +
          "' is not float32: bf16 weights train over float32 master weights, which only "
          "a sharded optimizer keeps (shard = optimizer, gradients or parameters)");
    trainable.push_back(p);
  }
  reducer_ = std::make_unique<GradientReducer>(trainable, group, GradientReducer::Averaging::prescaled);
  adamw_ = std::make_unique<AdamW>(trainable, adamw);
}

void GroupOptimizer::zero_grad() { shards_ ? shards_->zero_grad() : reducer_->zero_grad(); }

void GroupOptimizer::before_last_backward() {
  if (reducer_) reducer_->arm();
}

void GroupOptimizer::after_backward() {
  if (shards_) shards_->after_backward();
}

void GroupOptimizer::reduce() { shards_ ? shards_->reduce() : reducer_->reduce(); }

void GroupOptimizer::clip(double max_norm) {
  if (shards_)
    shards_->clip_grad_norm(max_norm);
  else
    torch::nn::utils::clip_grad_norm_(reducer_->parameters(), max_norm);
}

void GroupOptimizer::step(double learning_rate) {
  shards_ ? shards_->step(learning_rate) : adamw_->step(learning_rate);
}

TrainingCursor GroupOptimizer::load(const std::string& dir, std::int64_t step) {
  return shards_ ? load_sharded_checkpoint(dir, step, *shards_) : load_checkpoint(dir, step, named_, *adamw_);
}

void GroupOptimizer::save(const std::string& dir, const TrainingCursor& cursor) {
  if (shards_)
    save_sharded_checkpoint(dir, *shards_, cursor);
  else if (rank_ == 0)
    save_checkpoint(dir, named_, *adamw_, cursor);
}

}  // namespace acsweep::train

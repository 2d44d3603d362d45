#pragma once
// AdamW sharded over the ranks of a worker group (ZeRO stages 1 and 2, as DeepSpeed names them),
// applied from outside the model: it is given the named trainable parameters and the group's
// collectives (train/reducer.hpp) and knows nothing of MPI or NCCL.
//  - The parameters are grouped into buckets (the GradientReducer's: reverse registration order,
//    a small first bucket). A bucket's elements, padded to a multiple of the group size W, are cut
//    into W equal shards; rank r owns shard r.
//  - Each rank keeps float32 master weights, AdamW moments and a gradient for its shards only:
//    the optimizer state per rank falls as 1/W.
//  - ShardLevel::optimizer: the gradients accumulate in full buckets (as unsharded), and reduce()
//    reduce-scatters each bucket into its shard once per step.
//  - ShardLevel::gradients: no full gradient outlives its bucket. Each bucket is reduce-scattered
//    during the backward pass as soon as its gradients (and every bucket before it) are ready,
//    added into the shard, and its parameters' gradients are freed; after_backward() reduces
//    what the backward did not. Every rank must call after_backward() the same number of times
//    per step (a rank without data for a micro-step calls it without a backward).
//  - step() runs AdamW on the shards (the element-wise arithmetic of train/adamw.hpp) and
//    all-gathers the updated master weights into every rank's parameters, bucket by bucket.
// The reductions run in one fixed order on every rank, so W ranks follow one rank up to the
// rounding of the sums.
#include <torch/csrc/autograd/function.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/train/adamw.hpp"
#include "acsweep/train/reducer.hpp"

namespace acsweep::train {

enum class ShardLevel { none, optimizer, gradients };
// "none", "optimizer" or "gradients"; std::invalid_argument otherwise.
ShardLevel shard_level(const std::string& name);
std::string to_string(ShardLevel level);

struct ShardBucket {
  std::vector<std::size_t> members;  // indices into the named parameters
  std::int64_t numel = 0;            // of the members together, unpadded
  std::int64_t shard = 0;            // elements per rank: numel padded to a multiple of W, over W
  std::int64_t begin = 0, end = 0;   // this rank's owned elements of the bucket, unpadded
  torch::Tensor master;              // [shard] float32 master weights; its .grad() is the gradient shard
  torch::Tensor full_gradient;       // ShardLevel::optimizer: [shard * W], the members' .grad() are views
};

class ShardedAdamW {
 public:
  ShardedAdamW(std::vector<std::pair<std::string, torch::Tensor>> named, AllReduce& group, int rank,
               ShardLevel level, AdamWOptions options = {},
               std::size_t first_bucket_bytes = std::size_t{1} << 20, std::size_t bucket_bytes = 25u << 20);
  ShardedAdamW(const ShardedAdamW&) = delete;  // the hooks know its address
  ShardedAdamW& operator=(const ShardedAdamW&) = delete;

  void zero_grad();
  void after_backward();  // once per micro-step, on every rank alike
  void reduce();          // once per step, after the last after_backward()
  // Scales the gradient shards so that their norm over the whole group is at most max_norm, as
  // torch.nn.utils.clip_grad_norm_ does; returns the norm before clipping.
  double clip_grad_norm(double max_norm);
  void step(double learning_rate);  // AdamW on the shards, then every parameter all-gathered

  ShardLevel level() const { return level_; }
  int rank() const { return rank_; }
  int ranks() const { return group_.size(); }
  AllReduce& group() { return group_; }
  const std::vector<std::pair<std::string, torch::Tensor>>& named() const { return named_; }
  std::vector<ShardBucket>& buckets() { return buckets_; }
  AdamW& optimizer() { return optimizer_; }  // over the buckets' master shards, in bucket order

  // The parameters' values into the master shards (after the parameters were loaded).
  void masters_from_parameters();
  // The master shards all-gathered into every rank's parameters.
  void parameters_from_masters();

 private:
  void gradient_ready(std::size_t parameter);  // at ShardLevel::gradients, from the backward pass
  void reduce_bucket(std::size_t bucket);      // the members' gradients into the shard, then freed

  std::vector<std::pair<std::string, torch::Tensor>> named_;
  AllReduce& group_;
  int rank_;
  ShardLevel level_;
  std::vector<ShardBucket> buckets_;
  std::vector<std::size_t> bucket_of_;  // by parameter
  AdamW optimizer_;
  std::unique_ptr<GradientHooks> hooks_;  // at ShardLevel::gradients
  std::vector<std::size_t> waiting_;      // by bucket: gradients of this backward not yet accumulated
  std::size_t reduced_ = 0;               // buckets of this backward reduced, in order
};

}  // namespace acsweep::train

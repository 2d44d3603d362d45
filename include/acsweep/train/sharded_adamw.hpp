#pragma once
// AdamW sharded over the ranks of a worker group (ZeRO stages 1, 2 and 3, as DeepSpeed names them),
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
//  - ShardLevel::parameters (ZeRO-3, FSDP): besides the above, given units (the decoder's layers),
//    each unit's weights are released and held only as its master shards; gather_unit() makes
//    them whole for as long as the layer runs (in the forward pass, and again for its recompute
//    in the backward), release_unit() frees them, and reduce_unit() reduce-scatters the layer's
//    gradients straight into the shard (train/activation_checkpoint.hpp drives it). Weights outside the
//    units (embeddings, final norm, head, projector) stay whole, as at `gradients`.
//    Gathers go into two buffers the size of the largest unit: while one layer runs, the next one
//    (in the direction the passes go: up in the forward, down in the backward) is all-gathered
//    into the other (AllReduce::start_all_gather), and a unit still held in a buffer since the
//    last step is used again without a gather (the last layer, from the forward pass to its
//    recompute; the first, from one micro-step's backward to the next one's forward).
//  - The parameters may be bfloat16 (all of one dtype): the masters, moments and gradient shards
//    stay float32, so updates below bf16's resolution still accumulate; each step rounds the
//    masters to bf16 once and gathers those. Gradients are summed in float32; at `gradients` and
//    `parameters` they also accumulate over micro-steps in float32, at `optimizer` in the
//    parameters' dtype.
// The reductions run in one fixed order on every rank, so W ranks follow one rank up to the
// rounding of the sums.
#include <torch/csrc/autograd/function.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/train/adamw.hpp"
#include "acsweep/train/reducer.hpp"

namespace acsweep::train {

enum class ShardLevel { none, optimizer, gradients, parameters };
// "none", "optimizer", "gradients" or "parameters"; std::invalid_argument otherwise.
ShardLevel shard_level(const std::string& name);
std::string to_string(ShardLevel level);

struct ShardBucket {
  std::vector<std::size_t> members;  // indices into the named parameters
  std::int64_t numel = 0;            // of the members together, unpadded
  std::int64_t shard = 0;            // elements per rank: numel padded to a multiple of W, over W
  std::int64_t begin = 0, end = 0;   // this rank's owned elements of the bucket, unpadded
  torch::Tensor master;              // [shard] float32 master weights; its .grad() is the gradient shard
  torch::Tensor full_gradient;       // ShardLevel::optimizer: [shard * W], the members' .grad() are views
  bool unit = false;                 // ShardLevel::parameters: a unit's weights, whole only while in use
};

class ShardedAdamW {
 public:
  // `units` (ShardLevel::parameters, and only it): groups of indices into `named`, each a bucket
  // of its own whose weights are released here and gathered only while in use.
  ShardedAdamW(std::vector<std::pair<std::string, torch::Tensor>> named, AllReduce& group, int rank,
               ShardLevel level, AdamWOptions options = {},
               std::size_t first_bucket_bytes = std::size_t{1} << 20, std::size_t bucket_bytes = 25u << 20,
               const std::vector<std::vector<std::size_t>>& units = {});
  ~ShardedAdamW();                             // waits for a prefetch under way
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

  // A parameter's element count and shape as the model declares it (a released weight holds none).
  std::int64_t numel(std::size_t parameter) const { return numels_.at(parameter); }

  // The master shards all-gathered into every rank's parameters (those outside the units).
  void parameters_from_masters();

  // ShardLevel::parameters. Every rank must gather, release and reduce the same units in the same
  // order (the decoder's layers, in its forward and backward passes). One unit is whole at a time
  // (std::logic_error otherwise), in a buffer kept from gather to gather.
  std::size_t units() const { return unit_buckets_.size(); }
  void gather_unit(std::size_t unit);   // its weights whole on every rank, from the masters
  void release_unit(std::size_t unit);  // its weights hold no elements until the next gather
  // The unit's whole gradients (one per member, undefined where none) summed over the group:
  // this rank's [shard] part, float32. Its master's .grad() is where autograd accumulates it.
  torch::Tensor reduce_unit(std::size_t unit, const std::vector<torch::Tensor>& gradients);
  torch::Tensor unit_master(std::size_t unit) const;
  void gather_all();  // every unit whole for good, for what follows the training (evaluation, export)
  // The next unit's gather started while a unit is in use (on by default). Off, each gather
  // waits for its own all-gather, as a baseline.
  void set_prefetch(bool on) { prefetch_ = on; }
  struct GatherCounts {
    std::int64_t waited = 0;      // gathers that waited for their all-gather
    std::int64_t prefetched = 0;  // gathers whose all-gather was started earlier
    std::int64_t kept = 0;        // gathers of a unit still held in its buffer: no all-gather
  };
  const GatherCounts& gather_counts() const { return counts_; }

 private:
  void masters_from_parameters();     // the (whole) parameters' values into the master shards
  std::int64_t largest_unit() const;  // elements of the largest unit, padded
  void gather_masters(const ShardBucket& b, torch::Tensor& full);                    // in full's dtype
  torch::Tensor sent_master(const ShardBucket& b, const torch::Tensor& full) const;  // in full's dtype
  void point_into(std::size_t unit, const torch::Tensor& full);  // the unit's weights: views of full
  struct GatherSlot {
    torch::Tensor buffer;             // the largest unit's elements, in the parameters' dtype
    std::optional<std::size_t> unit;  // the unit it holds (or is being gathered into it)
    torch::Tensor sent;               // this rank's part, while its all-gather is under way
    bool under_way = false;
    std::int64_t used = 0;  // when it was last pointed into
  };
  GatherSlot& slot_for(std::size_t unit);  // the buffer to gather `unit` into, or that holds it
  void wait_for(GatherSlot& slot);
  void forget_gathered();  // the masters changed: no buffer holds a unit's current weights
  void gradient_ready(std::size_t parameter);  // at ShardLevel::gradients, from the backward pass
  void reduce_bucket(std::size_t bucket);      // the members' gradients into the shard, then freed

  std::vector<std::pair<std::string, torch::Tensor>> named_;
  AllReduce& group_;
  int rank_;
  ShardLevel level_;
  std::vector<ShardBucket> buckets_;
  std::vector<std::size_t> bucket_of_;  // by parameter
  AdamW optimizer_;
  std::vector<std::vector<std::int64_t>> shapes_;  // by parameter
  std::vector<std::int64_t> numels_;
  std::vector<std::size_t> unit_buckets_;  // by unit: its bucket
  std::vector<std::size_t> hooked_;        // the parameters with gradient hooks
  GatherSlot slots_[2];
  torch::Tensor reduce_buffer_;               // the unit being reduced's gradients, float32
  std::optional<std::size_t> whole_;          // the unit gathered now
  std::optional<std::size_t> last_gathered_;  // which way the passes go
  std::int64_t uses_ = 0;
  bool prefetch_ = true;
  GatherCounts counts_;
  bool all_whole_ = false;                // after gather_all()
  std::unique_ptr<GradientHooks> hooks_;  // at ShardLevel::gradients and parameters
  std::vector<std::size_t> waiting_;      // by bucket: gradients of this backward not yet accumulated
  std::size_t reduced_ = 0;               // buckets of this backward reduced, in order
};

}  // namespace acsweep::train

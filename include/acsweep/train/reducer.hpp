#pragma once
// Data-parallel gradient reduction, separate from the model (shared/STYLE.md): it is given the
// trainable parameters and a communicator-backed all-reduce, and knows nothing else.
//  - Every trainable parameter's gradient lives as a view into a flat bucket: a small first
//    bucket (the last parameters, whose gradients the backward pass makes first), then about
//    `bucket_bytes` each, filled in reverse registration order; frozen parameters are in none.
//  - reduce() all-reduces the buckets in one fixed order that every rank issues identically and
//    divides by the number of ranks (or, with Averaging::prescaled, leaves that to the caller,
//    who scales its loss by 1/ranks: the division is a pass over every gradient byte, 30% of the
//    reduction's time at 2 ranks, bench/reducer.sh). Call it once per optimizer step, after the
//    last micro-step's backward: the micro-steps before only accumulate into the buckets.
//  - A parameter that got no gradient in a step contributes zeros: the buckets are zeroed by
//    zero_grad(), so no rank waits on a bucket another rank never sends.
//  - Overlap with the backward pass (where the backend overlaps): arm() before the last
//    micro-step's backward; each bucket's sum starts as soon as the backward has accumulated all
//    of its gradients and every bucket before it has started (so every rank starts them in the
//    same order), and reduce() starts what is left and waits. Only on the calling thread (CPU
//    autograd runs there); hooks on other threads leave their bucket to reduce().
// Backends: MPI for CPU tensors; NCCL for CUDA tensors where compiled in (ACSWEEP_HAVE_NCCL).
#include <mpi.h>
#include <torch/csrc/autograd/function.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace acsweep::train {

// The collectives of a worker group on contiguous float32 tensors: an in-place sum over its
// ranks, and the two halves of it that sharded training uses (train/sharded_adamw.hpp).
class AllReduce {
 public:
  virtual ~AllReduce() = default;
  virtual void sum(torch::Tensor& flat) = 0;
  // `shard` gets this rank's part of the sum of `full` over the ranks: full holds size() parts of
  // shard.numel() each, and rank r gets part r.
  virtual void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) = 0;
  // `full` gets every rank's `shard`, rank r's as part r (float32 or bfloat16).
  virtual void all_gather(const torch::Tensor& shard, torch::Tensor& full) = 0;
  // An all-gather that overlaps other work (the next layer's weights while this one computes):
  // start_all_gather() begins it, wait_all_gather() makes `full` ready for what follows (on a GPU,
  // for the kernels queued after it, without stopping the host). One at a time; `shard` and
  // `full` must live until the wait; every rank starts it at the same point of its sequence of
  // collectives. A backend without overlap gathers at the start.
  virtual void start_all_gather(const torch::Tensor& shard, torch::Tensor& full) { all_gather(shard, full); }
  virtual void wait_all_gather() {}
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  // Sums that overlap other work: start() begins one (every rank starts the same tensors in the
  // same order), progress() lets the started ones move, finish() waits for all of them. A backend
  // without them sums at start().
  virtual bool overlaps() const { return false; }
  virtual void start(torch::Tensor& flat) { sum(flat); }
  virtual void progress() {}
  virtual void finish() {}
};

// std::invalid_argument (naming `what`) unless full and shard are contiguous float32 on one device
// (or, for a `gather`, both bfloat16) and full holds `ranks` shards.
void check_shard_shapes(const torch::Tensor& full, const torch::Tensor& shard, int ranks, const char* what,
                        bool gather = false);

// One rank: the sum over ranks is the tensor itself.
class SingleRankAllReduce : public AllReduce {
 public:
  void sum(torch::Tensor&) override {}
  void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) override;  // a copy
  void all_gather(const torch::Tensor& shard, torch::Tensor& full) override;      // a copy
  int size() const override { return 1; }
  std::string name() const override { return "single rank"; }
};

// MPI_Allreduce (MPI_IN_PLACE, MPI_SUM) on contiguous CPU float32 tensors. With `overlap`, sums
// that overlap the backward pass: MPI_Iallreduce, moved along by MPI_Testall. Off by default:
// without an MPI progress thread they ran 1.0-1.4x slower than summing after the backward
// (bench/reducer.sh, docs/PERFORMANCE.md).
class MpiAllReduce : public AllReduce {
 public:
  explicit MpiAllReduce(MPI_Comm comm, bool overlap = false);
  void sum(torch::Tensor& flat) override;
  void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) override;  // MPI_Reduce_scatter_block
  void all_gather(const torch::Tensor& shard, torch::Tensor& full) override;      // MPI_Allgather
  void start_all_gather(const torch::Tensor& shard, torch::Tensor& full) override;  // MPI_Iallgather
  void wait_all_gather() override;
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  bool overlaps() const override { return overlap_ && size_ > 1; }
  void start(torch::Tensor& flat) override;
  void progress() override;
  void finish() override;

 private:
  MPI_Comm comm_;
  int size_ = 1;
  bool overlap_ = false;
  std::vector<MPI_Request> requests_;
  MPI_Request gather_ = MPI_REQUEST_NULL;
};

// NCCL for CUDA tensors: the unique id is made by rank 0 of `comm` and broadcast with MPI_Bcast.
// Throws when acsweep was built without NCCL.
std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm comm, int device);

// The parameters (indices into `parameters`) grouped into buckets in reverse registration order
// (the backward pass produces the last layers' gradients first): the first bucket closes once it
// holds first_bucket_bytes of float32, the others at bucket_bytes.
std::vector<std::vector<std::size_t>> gradient_buckets(const std::vector<torch::Tensor>& parameters,
                                                       std::size_t first_bucket_bytes,
                                                       std::size_t bucket_bytes);

// std::logic_error unless each member's .grad() is still its view into `flat`, in order (autograd
// replaces a view when a gradient's layout differs, and the reduction would silently miss it).
void check_gradient_views(const std::vector<torch::Tensor>& parameters,
                          const std::vector<std::size_t>& members, const torch::Tensor& flat);

// Calls ready(i) once autograd has accumulated parameters[i]'s gradient in a backward pass (a
// post-hook on its gradient accumulator); the hooks come off when this is destroyed.
class GradientHooks {
 public:
  GradientHooks(const std::vector<torch::Tensor>& parameters, std::function<void(std::size_t)> ready);
  ~GradientHooks();
  GradientHooks(const GradientHooks&) = delete;
  GradientHooks& operator=(const GradientHooks&) = delete;

 private:
  std::function<void(std::size_t)> ready_;
  std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, std::uintptr_t>> hooks_;
};

struct Bucket {
  torch::Tensor flat;                // float32, contiguous, on the parameters' device
  std::vector<std::size_t> members;  // indices into the reducer's parameters
};

class GradientReducer {
 public:
  enum class Averaging { divide, prescaled };
  GradientReducer(std::vector<torch::Tensor> trainable, AllReduce& all_reduce,
                  Averaging averaging = Averaging::divide,
                  std::size_t first_bucket_bytes = std::size_t{1} << 20,
                  std::size_t bucket_bytes = 25u << 20);
  GradientReducer(const GradientReducer&) = delete;  // the hooks know its address
  GradientReducer& operator=(const GradientReducer&) = delete;

  void zero_grad();  // every bucket to zero (the gradients are views: never set them to none)
  void arm();        // the next backward is the step's last: start buckets as they fill
  void reduce();     // sum over ranks in bucket order, then divide by the number of ranks

  const std::vector<Bucket>& buckets() const { return buckets_; }
  const std::vector<torch::Tensor>& parameters() const { return parameters_; }

 private:
  void gradient_ready(std::size_t parameter);  // from the backward pass, once armed
  void start_ready_buckets();                  // in bucket order, as far as they are full

  std::vector<torch::Tensor> parameters_;
  std::vector<Bucket> buckets_;
  AllReduce& all_reduce_;
  Averaging averaging_;
  std::vector<std::size_t> bucket_of_;    // by parameter
  std::unique_ptr<GradientHooks> hooks_;  // where the backend overlaps
  // Armed state, for one backward pass.
  bool armed_ = false;
  std::thread::id armed_thread_;
  std::vector<std::size_t> waiting_;  // by bucket: gradients not yet accumulated
  std::size_t started_ = 0;           // buckets started, in order
};

}  // namespace acsweep::train

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

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace acsweep::train {

// An in-place sum over the ranks of a communicator, for one contiguous float tensor.
class AllReduce {
 public:
  virtual ~AllReduce() = default;
  virtual void sum(torch::Tensor& flat) = 0;
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

// One rank: the sum over ranks is the tensor itself.
class SingleRankAllReduce : public AllReduce {
 public:
  void sum(torch::Tensor&) override {}
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
};

// NCCL for CUDA tensors: the unique id is made by rank 0 of `comm` and broadcast with MPI_Bcast.
// Throws when acsweep was built without NCCL.
std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm comm, int device);

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
  ~GradientReducer();                                // takes its hooks off the parameters
  GradientReducer(const GradientReducer&) = delete;  // the hooks know its address
  GradientReducer& operator=(const GradientReducer&) = delete;

  void zero_grad();  // every bucket to zero (the gradients are views: never set them to none)
  void arm();        // the next backward is the step's last: start buckets as they fill
  void reduce();     // sum over ranks in bucket order, then divide by the number of ranks

  const std::vector<Bucket>& buckets() const { return buckets_; }
  const std::vector<torch::Tensor>& parameters() const { return parameters_; }

 private:
  friend struct GradientReadyHook;
  void gradient_ready(std::size_t parameter);  // from the backward pass, once armed
  void start_ready_buckets();                  // in bucket order, as far as they are full

  std::vector<torch::Tensor> parameters_;
  std::vector<Bucket> buckets_;
  AllReduce& all_reduce_;
  Averaging averaging_;
  std::vector<std::size_t> bucket_of_;  // by parameter
  // The parameters' gradient accumulators with this reducer's hook on each (key to remove it).
  std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, std::uintptr_t>> hooks_;
  // Armed state, for one backward pass.
  bool armed_ = false;
  std::thread::id armed_thread_;
  std::vector<std::size_t> waiting_;  // by bucket: gradients not yet accumulated
  std::size_t started_ = 0;           // buckets started, in order
};

}  // namespace acsweep::train

#include "acsweep/train/reducer.hpp"

#include <limits>
#include <stdexcept>

#include "acsweep/runtime/mpi.hpp"

namespace acsweep::train {

MpiAllReduce::MpiAllReduce(MPI_Comm comm, bool overlap) : comm_(comm), overlap_(overlap) {
  runtime::check_mpi(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
}

namespace {

// The element count MPI takes for a gradient bucket; std::invalid_argument when MPI cannot.
int mpi_count(const torch::Tensor& flat) {
  if (!flat.is_contiguous() || flat.scalar_type() != torch::kFloat32 || !flat.device().is_cpu())
    throw std::invalid_argument("MpiAllReduce: needs a contiguous float32 CPU tensor");
  if (flat.numel() > std::numeric_limits<int>::max())
    throw std::invalid_argument("MpiAllReduce: bucket too large for MPI");
  return static_cast<int>(flat.numel());
}

}  // namespace

void check_shard_shapes(const torch::Tensor& full, const torch::Tensor& shard, int ranks, const char* what,
                        bool gather) {
  const bool bf16 = gather && full.scalar_type() == torch::kBFloat16;
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  for (const auto* t : {&full, &shard})
    if (!t->is_contiguous() || t->scalar_type() != dtype || t->device() != full.device())
      throw std::invalid_argument(
          std::string(what) +
          (gather ? ": needs contiguous float32 or bfloat16 tensors of one dtype on one device"
                  : ": needs contiguous float32 tensors on one device"));
  if (full.numel() != shard.numel() * ranks)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(full.numel()) +
                                " elements are not " + std::to_string(ranks) + " shards of " +
                                std::to_string(shard.numel()));
}

void SingleRankAllReduce::reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) {
  check_shard_shapes(full, shard, 1, "reduce_scatter");
  shard.copy_(full);
}

void SingleRankAllReduce::all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  check_shard_shapes(full, shard, 1, "all_gather", /*gather=*/true);
  full.copy_(shard);
}

void MpiAllReduce::reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) {
  check_shard_shapes(full, shard, size_, "MPI reduce_scatter");
  const int count = mpi_count(shard);
  runtime::check_mpi(MPI_Reduce_scatter_block(full.data_ptr<float>(), shard.data_ptr<float>(), count,
                                              MPI_FLOAT, MPI_SUM, comm_),
                     "MPI_Reduce_scatter_block of a gradient bucket");
}

namespace {

// A weight bucket's bytes as MPI counts them: no arithmetic, so float32 and bfloat16 alike.
int gather_bytes(const torch::Tensor& shard, const torch::Tensor& full, int ranks) {
  check_shard_shapes(full, shard, ranks, "MPI all_gather", /*gather=*/true);
  if (!shard.device().is_cpu()) throw std::invalid_argument("MPI all_gather: needs CPU tensors");
  const auto bytes = shard.numel() * static_cast<std::int64_t>(shard.element_size());
  if (bytes > std::numeric_limits<int>::max())
    throw std::invalid_argument("MPI all_gather: bucket too large for MPI");
  return static_cast<int>(bytes);
}

}  // namespace

void MpiAllReduce::all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  const int count = gather_bytes(shard, full, size_);
  runtime::check_mpi(
      MPI_Allgather(shard.data_ptr(), count, MPI_BYTE, full.data_ptr(), count, MPI_BYTE, comm_),
      "MPI_Allgather of a weight bucket");
}

void MpiAllReduce::start_all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  if (gather_ != MPI_REQUEST_NULL) throw std::logic_error("MPI all_gather: one is already under way");
  const int count = gather_bytes(shard, full, size_);
  runtime::check_mpi(
      MPI_Iallgather(shard.data_ptr(), count, MPI_BYTE, full.data_ptr(), count, MPI_BYTE, comm_, &gather_),
      "MPI_Iallgather of a weight bucket");
}

void MpiAllReduce::wait_all_gather() {
  if (gather_ == MPI_REQUEST_NULL) return;
  runtime::check_mpi(MPI_Wait(&gather_, MPI_STATUS_IGNORE), "MPI_Wait on the all-gather of a weight bucket");
}

void MpiAllReduce::sum(torch::Tensor& flat) {
  const int count = mpi_count(flat);
  if (size_ == 1) return;
  runtime::check_mpi(MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr<float>(), count, MPI_FLOAT, MPI_SUM, comm_),
                     "MPI_Allreduce of a gradient bucket");
}

void MpiAllReduce::start(torch::Tensor& flat) {
  const int count = mpi_count(flat);
  if (size_ == 1) return;
  requests_.emplace_back();
  runtime::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, flat.data_ptr<float>(), count, MPI_FLOAT, MPI_SUM, comm_,
                                    &requests_.back()),
                     "MPI_Iallreduce of a gradient bucket");
}

void MpiAllReduce::progress() {
  if (requests_.empty()) return;
  int done = 0;
  runtime::check_mpi(
      MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE),
      "MPI_Testall of the gradient buckets");
}

void MpiAllReduce::finish() {
  if (requests_.empty()) return;
  runtime::check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
                     "MPI_Waitall of the gradient buckets");
  requests_.clear();
}

// Called by autograd once a parameter's gradient has been accumulated in a backward pass.
struct GradientReadyHook : torch::autograd::FunctionPostHook {
  GradientReadyHook(const std::function<void(std::size_t)>* ready, std::size_t index)
      : on_ready(ready), parameter(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    (*on_ready)(parameter);
    return outputs;
  }
  const std::function<void(std::size_t)>* on_ready;
  std::size_t parameter;
};

GradientHooks::GradientHooks(const std::vector<torch::Tensor>& parameters,
                             std::function<void(std::size_t)> ready)
    : ready_(std::move(ready)) {
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(parameters[i]);
    const auto key = accumulator->add_post_hook(std::make_unique<GradientReadyHook>(&ready_, i));
    hooks_.emplace_back(std::move(accumulator), key);
  }
}

GradientHooks::~GradientHooks() {
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

#ifndef ACSWEEP_HAVE_NCCL
std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm, int) {
  throw std::runtime_error(
      "this acsweep was built without NCCL (CUDA and NCCL were not found at build time)");
}
#endif

std::vector<std::vector<std::size_t>> gradient_buckets(const std::vector<torch::Tensor>& parameters,
                                                       std::size_t first_bucket_bytes,
                                                       std::size_t bucket_bytes) {
  std::vector<std::vector<std::size_t>> buckets;
  std::size_t limit = first_bucket_bytes, filled = 0;
  std::vector<std::size_t> members;
  for (std::size_t k = parameters.size(); k-- > 0;) {
    members.push_back(k);
    filled += static_cast<std::size_t>(parameters[k].numel()) * sizeof(float);
    if (filled >= limit) {
      buckets.push_back(std::move(members));
      members.clear();
      filled = 0;
      limit = bucket_bytes;
    }
  }
  if (!members.empty()) buckets.push_back(std::move(members));
  return buckets;
}

void check_gradient_views(const std::vector<torch::Tensor>& parameters,
                          const std::vector<std::size_t>& members, const torch::Tensor& flat) {
  std::int64_t offset = 0;
  for (const auto i : members) {
    const auto& g = parameters[i].grad();
    if (!g.defined() || g.data_ptr() != static_cast<char*>(flat.data_ptr()) + offset * flat.element_size())
      throw std::logic_error("gradient bucket: a gradient is no longer a view into its bucket");
    offset += parameters[i].numel();
  }
}

GradientReducer::GradientReducer(std::vector<torch::Tensor> trainable, AllReduce& all_reduce,
                                 Averaging averaging, std::size_t first_bucket_bytes,
                                 std::size_t bucket_bytes)
    : all_reduce_(all_reduce), averaging_(averaging) {
  for (auto& p : trainable)
    if (p.requires_grad()) parameters_.push_back(p);
  for (auto& members : gradient_buckets(parameters_, first_bucket_bytes, bucket_bytes)) {
    std::int64_t numel = 0;
    for (const auto i : members) numel += parameters_[i].numel();
    Bucket bucket{torch::zeros({numel}, parameters_[members[0]].options().dtype(torch::kFloat32)),
                  std::move(members)};
    std::int64_t offset = 0;
    for (const auto i : bucket.members) {
      auto& p = parameters_[i];
      if (p.scalar_type() != torch::kFloat32)
        throw std::invalid_argument("GradientReducer: float32 parameters only");
      p.mutable_grad() = bucket.flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    }
    buckets_.push_back(std::move(bucket));
  }
  bucket_of_.resize(parameters_.size());
  for (std::size_t b = 0; b < buckets_.size(); ++b)
    for (const auto i : buckets_[b].members) bucket_of_[i] = b;
  if (all_reduce_.overlaps())
    hooks_ = std::make_unique<GradientHooks>(parameters_, [this](std::size_t i) { gradient_ready(i); });
}

void GradientReducer::arm() {
  if (!hooks_) return;  // the backend does not overlap: reduce() does it all
  armed_ = true;
  armed_thread_ = std::this_thread::get_id();
  started_ = 0;
  waiting_.clear();
  for (const auto& bucket : buckets_) waiting_.push_back(bucket.members.size());
}

void GradientReducer::gradient_ready(std::size_t parameter) {
  if (!armed_ || std::this_thread::get_id() != armed_thread_) return;
  --waiting_[bucket_of_[parameter]];
  start_ready_buckets();
  all_reduce_.progress();
}

void GradientReducer::start_ready_buckets() {
  while (started_ < buckets_.size() && waiting_[started_] == 0) all_reduce_.start(buckets_[started_++].flat);
}

void GradientReducer::zero_grad() {
  for (auto& bucket : buckets_) bucket.flat.zero_();
}

void GradientReducer::reduce() {
  // Autograd may have replaced a view (it does when a gradient's layout differs): a parameter
  // whose .grad is no longer its bucket's view would silently miss the reduction.
  for (const auto& bucket : buckets_) check_gradient_views(parameters_, bucket.members, bucket.flat);
  torch::NoGradGuard no_grad;
  if (armed_) {  // what the backward did not start (a parameter without a gradient), in order
    armed_ = false;
    while (started_ < buckets_.size()) all_reduce_.start(buckets_[started_++].flat);
    all_reduce_.finish();
  } else {
    for (auto& bucket : buckets_) all_reduce_.sum(bucket.flat);
  }
  const double ranks = all_reduce_.size();
  if (ranks > 1 && averaging_ == Averaging::divide)
    for (auto& bucket : buckets_) bucket.flat.div_(ranks);
}

}  // namespace acsweep::train

#include "acsweep/train/reducer.hpp"

#include <limits>
#include <stdexcept>

#include "acsweep/runtime/mpi.hpp"

namespace acsweep::train {

MpiAllReduce::MpiAllReduce(MPI_Comm comm) : comm_(comm) {
  runtime::check_mpi(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
}

void MpiAllReduce::sum(torch::Tensor& flat) {
  if (!flat.is_contiguous() || flat.scalar_type() != torch::kFloat32 || !flat.device().is_cpu())
    throw std::invalid_argument("MpiAllReduce: needs a contiguous float32 CPU tensor");
  if (size_ == 1) return;
  const auto count = flat.numel();
  if (count > std::numeric_limits<int>::max())
    throw std::invalid_argument("MpiAllReduce: bucket too large for MPI");
  runtime::check_mpi(
      MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr<float>(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm_),
      "MPI_Allreduce of a gradient bucket");
}

#ifndef ACSWEEP_HAVE_NCCL
std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm, int) {
  throw std::runtime_error(
      "this acsweep was built without NCCL (CUDA and NCCL were not found at build time)");
}
#endif

GradientReducer::GradientReducer(std::vector<torch::Tensor> trainable, AllReduce& all_reduce,
                                 Averaging averaging, std::size_t first_bucket_bytes,
                                 std::size_t bucket_bytes)
    : all_reduce_(all_reduce), averaging_(averaging) {
  for (auto& p : trainable)
    if (p.requires_grad()) parameters_.push_back(p);
  // Reverse registration order: the backward pass produces the last layers' gradients first.
  std::size_t limit = first_bucket_bytes, filled = 0;
  std::vector<std::size_t> members;
  const auto close = [&] {
    if (members.empty()) return;
    std::int64_t numel = 0;
    for (const auto i : members) numel += parameters_[i].numel();
    Bucket bucket{torch::zeros({numel}, parameters_[members[0]].options().dtype(torch::kFloat32)), members};
    std::int64_t offset = 0;
    for (const auto i : members) {
      auto& p = parameters_[i];
      if (p.scalar_type() != torch::kFloat32)
        throw std::invalid_argument("GradientReducer: float32 parameters only");
      p.mutable_grad() = bucket.flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    }
    buckets_.push_back(std::move(bucket));
    members.clear();
    filled = 0;
    limit = bucket_bytes;
  };
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    members.push_back(k);
    filled += static_cast<std::size_t>(parameters_[k].numel()) * sizeof(float);
    if (filled >= limit) close();
  }
  close();
}

void GradientReducer::zero_grad() {
  for (auto& bucket : buckets_) bucket.flat.zero_();
}

void GradientReducer::reduce() {
  // Autograd may have replaced a view (it does when a gradient's layout differs): a parameter
  // whose .grad is no longer its bucket's view would silently miss the reduction.
  for (const auto& bucket : buckets_) {
    std::int64_t offset = 0;
    for (const auto i : bucket.members) {
      const auto& g = parameters_[i].grad();
      if (!g.defined() || g.data_ptr() != static_cast<float*>(bucket.flat.data_ptr()) + offset)
        throw std::logic_error("GradientReducer: a gradient is no longer a view into its bucket");
      offset += parameters_[i].numel();
    }
  }
  torch::NoGradGuard no_grad;
  const double ranks = all_reduce_.size();
  for (auto& bucket : buckets_) {
    all_reduce_.sum(bucket.flat);
    if (ranks > 1 && averaging_ == Averaging::divide) bucket.flat.div_(ranks);
  }
}

}  // namespace acsweep::train

// The NCCL backend of the gradient reducer, compiled when CUDA and NCCL are found. It uses only
// the CUDA runtime and NCCL (not LibTorch's CUDA headers, which a CPU LibTorch lacks), on the
// legacy default stream, which orders it with LibTorch's kernels on its default stream.
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "acsweep/runtime/mpi.hpp"
#include "acsweep/train/reducer.hpp"

namespace acsweep::train {
namespace {

void check_cuda(cudaError_t code, const char* what) {
  if (code != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(code));
}

void check_nccl(ncclResult_t code, const char* what) {
  if (code != ncclSuccess) throw std::runtime_error(std::string(what) + ": " + ncclGetErrorString(code));
}

class NcclAllReduce : public AllReduce {
 public:
  NcclAllReduce(MPI_Comm comm, int device) {
    int rank = 0;
    runtime::check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    runtime::check_mpi(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    ncclUniqueId id;
    if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    runtime::check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm), "MPI_Bcast of the NCCL unique id");
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank), "ncclCommInitRank");
  }
  ~NcclAllReduce() override { ncclCommDestroy(comm_); }
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  void sum(torch::Tensor& flat) override {
    if (!flat.is_cuda() || !flat.is_contiguous() || flat.scalar_type() != torch::kFloat32)
      throw std::invalid_argument("NcclAllReduce: needs a contiguous float32 CUDA tensor");
    void* data = flat.data_ptr();
    check_nccl(
        ncclAllReduce(data, data, static_cast<std::size_t>(flat.numel()), ncclFloat, ncclSum, comm_, nullptr),
        "ncclAllReduce of a gradient bucket");
    check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize after ncclAllReduce");
  }
  void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) override {
    check_shard_shapes(full, shard, size_, "NCCL reduce_scatter");
    if (!full.is_cuda()) throw std::invalid_argument("NcclAllReduce: needs CUDA tensors");
    check_nccl(ncclReduceScatter(full.data_ptr(), shard.data_ptr(), static_cast<std::size_t>(shard.numel()),
                                 ncclFloat, ncclSum, comm_, nullptr),
               "ncclReduceScatter of a gradient bucket");
    check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize after ncclReduceScatter");
  }
  void all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    check_shard_shapes(full, shard, size_, "NCCL all_gather", /*gather=*/true);
    if (!full.is_cuda()) throw std::invalid_argument("NcclAllReduce: needs CUDA tensors");
    const auto type = shard.scalar_type() == at::kBFloat16 ? ncclBfloat16 : ncclFloat;
    check_nccl(ncclAllGather(shard.data_ptr(), full.data_ptr(), static_cast<std::size_t>(shard.numel()), type,
                             comm_, nullptr),
               "ncclAllGather of a weight bucket");
    check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize after ncclAllGather");
  }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

 private:
  ncclComm_t comm_ = nullptr;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm comm, int device) {
  return std::make_unique<NcclAllReduce>(comm, device);
}

}  // namespace acsweep::train

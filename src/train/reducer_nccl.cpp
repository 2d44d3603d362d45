// The NCCL backend of the gradient reducer, compiled when CUDA and NCCL are found. It uses only
// the CUDA runtime and NCCL (not LibTorch's CUDA headers, which a CPU LibTorch lacks). LibTorch's
// kernels run on the legacy default stream; every collective runs on one non-blocking stream of
// its own, after an event recorded on the default stream (so after the kernels that made its
// input), in the order the host issues them. The blocking collectives wait on the host for their
// stream; the started all-gather only makes the default stream wait for it, so the kernels queued
// meanwhile (the layer before) overlap it.
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
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check_cuda(cudaEventCreateWithFlags(&computed_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    check_cuda(cudaEventCreateWithFlags(&gathered_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  }
  ~NcclAllReduce() override {
    ncclCommDestroy(comm_);
    cudaEventDestroy(gathered_);
    cudaEventDestroy(computed_);
    cudaStreamDestroy(stream_);
  }
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  void sum(torch::Tensor& flat) override {
    if (!flat.is_cuda() || !flat.is_contiguous() || flat.scalar_type() != torch::kFloat32)
      throw std::invalid_argument("NcclAllReduce: needs a contiguous float32 CUDA tensor");
    void* data = flat.data_ptr();
    check_nccl(ncclAllReduce(data, data, static_cast<std::size_t>(flat.numel()), ncclFloat, ncclSum, comm_,
                             after_compute()),
               "ncclAllReduce of a gradient bucket");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after ncclAllReduce");
  }
  void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard) override {
    check_shard_shapes(full, shard, size_, "NCCL reduce_scatter");
    if (!full.is_cuda()) throw std::invalid_argument("NcclAllReduce: needs CUDA tensors");
    check_nccl(ncclReduceScatter(full.data_ptr(), shard.data_ptr(), static_cast<std::size_t>(shard.numel()),
                                 ncclFloat, ncclSum, comm_, after_compute()),
               "ncclReduceScatter of a gradient bucket");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after ncclReduceScatter");
  }
  void all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    enqueue_all_gather(shard, full);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after ncclAllGather");
  }
  void start_all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    if (gathering_) throw std::logic_error("NCCL all_gather: one is already under way");
    enqueue_all_gather(shard, full);
    check_cuda(cudaEventRecord(gathered_, stream_), "cudaEventRecord after ncclAllGather");
    gathering_ = true;
  }
  void wait_all_gather() override {
    if (!gathering_) return;
    gathering_ = false;
    // The default stream's next kernels wait for the gather; the host goes on.
    check_cuda(cudaStreamWaitEvent(nullptr, gathered_, 0), "cudaStreamWaitEvent on an ncclAllGather");
  }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

 private:
  // The collectives' stream, once it waits for what the default stream has queued so far.
  cudaStream_t after_compute() {
    check_cuda(cudaEventRecord(computed_, nullptr), "cudaEventRecord on the default stream");
    check_cuda(cudaStreamWaitEvent(stream_, computed_, 0), "cudaStreamWaitEvent before a collective");
    return stream_;
  }
  void enqueue_all_gather(const torch::Tensor& shard, torch::Tensor& full) {
    check_shard_shapes(full, shard, size_, "NCCL all_gather", /*gather=*/true);
    if (!full.is_cuda()) throw std::invalid_argument("NcclAllReduce: needs CUDA tensors");
    const auto type = shard.scalar_type() == at::kBFloat16 ? ncclBfloat16 : ncclFloat;
    check_nccl(ncclAllGather(shard.data_ptr(), full.data_ptr(), static_cast<std::size_t>(shard.numel()), type,
                             comm_, after_compute()),
               "ncclAllGather of a weight bucket");
  }

  ncclComm_t comm_ = nullptr;
  int size_ = 1;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t computed_ = nullptr, gathered_ = nullptr;
  bool gathering_ = false;
};

}  // namespace

std::unique_ptr<AllReduce> make_nccl_all_reduce(MPI_Comm comm, int device) {
  return std::make_unique<NcclAllReduce>(comm, device);
}

}  // namespace acsweep::train

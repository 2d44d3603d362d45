#pragma once
// What the linked LibTorch offers: the models, training and scoring code run on it.
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace acsweep::models {

struct TorchRuntime {
  std::string version;
  bool cuda_available = false;
  int cuda_devices = 0;
  int intra_op_threads = 0;
};

TorchRuntime torch_runtime();

// Keeps freed memory in the process for the next tensor instead of handing every large block
// back to the kernel: with glibc's defaults each activation of a few MB is a fresh mmap whose
// pages fault in and are zeroed on every forward pass, which cost 15% of a ViT's CPU forward
// time (bench/models_vs_pytorch.py). Called once at start-up by the executables.
void keep_tensor_memory_for_reuse();

// This process's peak memory in bytes since it started. On a GPU (`cuda_device` >= 0): the most
// LibTorch's caching allocator has had allocated on it. On the CPU (-1): the peak resident set
// (the kernel's count: weights, activations, buffers and the libraries alike).
std::int64_t peak_memory_bytes(int cuda_device);
// The memory of GPU `cuda_device` in bytes (its total, as CUDA reports it); 0 without CUDA.
std::int64_t device_memory_bytes(int cuda_device);
// Of the device a tensor lives on: its GPU's, or the CPU's.
std::int64_t peak_memory_bytes(const c10::Device& device);

}  // namespace acsweep::models

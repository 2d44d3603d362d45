#pragma once
// What the linked LibTorch offers: the models, training and scoring code run on it.
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

}  // namespace acsweep::models

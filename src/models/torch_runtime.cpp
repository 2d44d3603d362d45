#include "acsweep/models/torch_runtime.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace acsweep::models {

TorchRuntime torch_runtime() {
  TorchRuntime info;
  info.version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = static_cast<int>(torch::cuda::device_count());
  info.intra_op_threads = at::get_num_threads();
  return info;
}

}  // namespace acsweep::models

#include "acsweep/models/torch_runtime.hpp"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>

namespace acsweep::models {

TorchRuntime torch_runtime() {
  TorchRuntime info;
  info.version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = static_cast<int>(torch::cuda::device_count());
  info.intra_op_threads = at::get_num_threads();
  return info;
}

void keep_tensor_memory_for_reuse() {
  // Blocks below 1 GiB come from the heap and are reused; freed memory stays for the next pass.
  const bool ok = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 &&
                  mallopt(M_TOP_PAD, 64 << 20) == 1;
  if (!ok)
    std::fputs("acsweep: mallopt refused the allocator settings; tensors will be slower to allocate\n",
               stderr);
}

}  // namespace acsweep::models

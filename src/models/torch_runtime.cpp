#include "acsweep/models/torch_runtime.hpp"

#include <ATen/Parallel.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <malloc.h>
#include <sys/resource.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>
#include <stdexcept>

namespace acsweep::models {

TorchRuntime torch_runtime() {
  TorchRuntime info;
  info.version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = static_cast<int>(torch::cuda::device_count());
  info.intra_op_threads = at::get_num_threads();
  return info;
}

std::int64_t peak_memory_bytes(const c10::Device& device) {
  return peak_memory_bytes(device.is_cuda() ? (device.has_index() ? device.index() : 0) : -1);
}

void keep_tensor_memory_for_reuse() {
  // Blocks below 1 GiB come from the heap and are reused; freed memory stays for the next pass.
  const bool ok = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 &&
                  mallopt(M_TOP_PAD, 64 << 20) == 1;
  if (!ok)
    std::fputs("acsweep: mallopt refused the allocator settings; tensors will be slower to allocate\n",
               stderr);
}

std::int64_t device_memory_bytes(int cuda_device) {
  if (cuda_device < 0 || !torch_runtime().cuda_available) return 0;
  const auto [free, total] =
      c10::getDeviceAllocator(c10::kCUDA)->getMemoryInfo(static_cast<c10::DeviceIndex>(cuda_device));
  (void)free;
  return static_cast<std::int64_t>(total);
}

std::int64_t peak_memory_bytes(int cuda_device) {
  if (cuda_device >= 0) {
    const auto stats =
        c10::getDeviceAllocator(c10::kCUDA)->getDeviceStats(static_cast<c10::DeviceIndex>(cuda_device));
    return stats.allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) throw std::runtime_error("getrusage(RUSAGE_SELF) failed");
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux counts KiB
}

}  // namespace acsweep::models

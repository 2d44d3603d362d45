// acsweep version --runtime: the versions, with what the loaded LibTorch and NCCL find at run time.
#include <cstdio>
#include <stdexcept>

#include "acsweep/cli/commands.hpp"
#include "acsweep/models/torch_runtime.hpp"
#ifdef ACSWEEP_HAVE_NCCL
#include <nccl.h>
#endif

namespace acsweep::cli {

int run_version_runtime(const std::vector<std::string>& args, const CommandContext& context) {
  if (!print_common_versions(args, context)) return 0;
  const models::TorchRuntime torch = models::torch_runtime();
  std::printf("LibTorch: %s, %d intra-op threads, CUDA %s (%d device(s))\n", torch.version.c_str(),
              torch.intra_op_threads, torch.cuda_available ? "available" : "not available",
              torch.cuda_devices);
#ifdef ACSWEEP_HAVE_NCCL
  int nccl = 0;
  if (ncclGetVersion(&nccl) != ncclSuccess) throw std::runtime_error("ncclGetVersion failed");
  std::printf("NCCL: %d (compiled in)\n", nccl);
#else
  std::printf("NCCL: not compiled in (CUDA/NCCL not found at build time)\n");
#endif
  return 0;
}

}  // namespace acsweep::cli

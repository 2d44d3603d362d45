// acsweep version: what this build links and what it finds at run time. The first thing to
// paste into a bug report from a cluster.
#include <hdf5.h>

#include <cstdio>

#include "acsweep/cli/commands.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/runtime/mpi.hpp"
#ifdef ACSWEEP_HAVE_NCCL
#include <nccl.h>

#include <stdexcept>
#endif

namespace acsweep::cli {

int run_version(const std::vector<std::string>&, const CommandContext& context) {
  if (context.mpi.rank() != 0) return 0;
  std::printf("acsweep %s\n", ACSWEEP_VERSION);

  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  runtime::check_mpi(MPI_Get_library_version(mpi_version, &length), "MPI_Get_library_version");
  std::string mpi(mpi_version, static_cast<std::size_t>(length));
  mpi = mpi.substr(0, mpi.find_first_of("\n,"));
  std::printf("MPI: %s (world of %d)\n", mpi.c_str(), context.mpi.size());

  unsigned major = 0, minor = 0, release = 0;
  if (H5get_libversion(&major, &minor, &release) < 0) throw std::runtime_error("H5get_libversion failed");
#ifdef H5_HAVE_PARALLEL
  const char* hdf5_kind = "parallel";
#else
  const char* hdf5_kind = "serial";
#endif
  std::printf("HDF5: %u.%u.%u (%s)\n", major, minor, release, hdf5_kind);

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

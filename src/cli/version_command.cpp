// acsweep version: what this build links and what it finds at run time. The first thing to
// paste into a bug report from a cluster. This part loads no LibTorch (torch_version_command.cpp
// does, for --runtime).
#include <hdf5.h>

#include <cstdio>
#include <stdexcept>

#include "acsweep/cli/commands.hpp"
#include "acsweep/error.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace acsweep::cli {

bool print_common_versions(const std::vector<std::string>& args, const CommandContext& context) {
  for (const std::string& arg : args)
    if (arg != "--runtime")
      throw InputError("acsweep version: unknown option '" + arg + "' (only --runtime)");
  if (context.mpi.rank() != 0) return false;
  std::printf("acsweep %s\n", ACSWEEP_VERSION);

  // MPI_Get_library_version may be called before MPI_Init (MPI-3.0, 8.1.1).
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  runtime::check_mpi(MPI_Get_library_version(mpi_version, &length), "MPI_Get_library_version");
  std::string mpi(mpi_version, static_cast<std::size_t>(length));
  mpi = mpi.substr(0, mpi.find_first_of("\n,"));
  std::printf("MPI: %s (world of %d%s)\n", mpi.c_str(), context.mpi.size(),
              context.mpi.initialised() ? "" : ", no launcher: MPI not started");

  unsigned major = 0, minor = 0, release = 0;
  if (H5get_libversion(&major, &minor, &release) < 0) throw std::runtime_error("H5get_libversion failed");
#ifdef H5_HAVE_PARALLEL
  const char* hdf5_kind = "parallel";
#else
  const char* hdf5_kind = "serial";
#endif
  std::printf("HDF5: %u.%u.%u (%s)\n", major, minor, release, hdf5_kind);
  return true;
}

int run_version(const std::vector<std::string>& args, const CommandContext& context) {
  if (!print_common_versions(args, context)) return 0;
  std::printf("LibTorch: %s (as built; `acsweep version --runtime` loads it: threads, CUDA devices)\n",
              ACSWEEP_TORCH_VERSION);
#ifdef ACSWEEP_NCCL_VERSION
  std::printf("NCCL: %s (compiled in)\n", ACSWEEP_NCCL_VERSION);
#else
  std::printf("NCCL: not compiled in (CUDA/NCCL not found at build time)\n");
#endif
  return 0;
}

}  // namespace acsweep::cli

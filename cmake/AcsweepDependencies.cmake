# Every external dependency, found once. All come from Debian packages (scripts/bootstrap);
# on a cluster, point CMAKE_PREFIX_PATH at the site's MPI, parallel HDF5 and CUDA LibTorch.

find_package(MPI REQUIRED COMPONENTS C CXX)

# Debian ships serial and parallel HDF5 side by side; ask FindHDF5 for the parallel one.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "acsweep needs a parallel (MPI-IO) HDF5, but the HDF5 found at '${HDF5_INCLUDE_DIRS}' is serial. "
    "On Debian: apt-get install libhdf5-openmpi-dev (scripts/bootstrap does this); elsewhere set "
    "HDF5_ROOT or CMAKE_PREFIX_PATH to an HDF5 built with --enable-parallel.")
endif()
add_library(acsweep_hdf5 INTERFACE)
target_include_directories(acsweep_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_compile_definitions(acsweep_hdf5 INTERFACE ${HDF5_DEFINITIONS})
target_link_libraries(acsweep_hdf5 INTERFACE ${HDF5_LIBRARIES} MPI::MPI_C)

find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Boost 1.71 REQUIRED COMPONENTS program_options serialization)
find_package(GTest REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)

# stb_image (libstb-dev) decodes JPEG and PNG.
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
find_library(STB_LIBRARY stb REQUIRED)
add_library(acsweep_stb INTERFACE)
target_include_directories(acsweep_stb SYSTEM INTERFACE "${STB_INCLUDE_DIR}")
target_link_libraries(acsweep_stb INTERFACE "${STB_LIBRARY}")

# LibTorch: Debian's CPU build here, a CUDA build on GPU clusters through CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)

# CUDA and NCCL are optional: compiled in only when found under ACSWEEP_CUDA_ROOT.
set(ACSWEEP_HAVE_NCCL OFF)
if(ACSWEEP_WITH_CUDA)
  set(CUDAToolkit_ROOT "${ACSWEEP_CUDA_ROOT}")
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS "${ACSWEEP_CUDA_ROOT}/include" ENV NCCL_HOME PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY nccl HINTS "${ACSWEEP_CUDA_ROOT}/lib64" "${ACSWEEP_CUDA_ROOT}/lib" ENV NCCL_HOME PATH_SUFFIXES lib lib64)
  if(CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(ACSWEEP_HAVE_NCCL ON)
    add_library(acsweep_nccl INTERFACE)
    target_include_directories(acsweep_nccl SYSTEM INTERFACE "${NCCL_INCLUDE_DIR}")
    target_link_libraries(acsweep_nccl INTERFACE "${NCCL_LIBRARY}" CUDA::cudart)
    target_compile_definitions(acsweep_nccl INTERFACE ACSWEEP_HAVE_NCCL=1)
    message(STATUS "acsweep: CUDA ${CUDAToolkit_VERSION} and NCCL (${NCCL_LIBRARY}) found: NCCL backend on")
  else()
    message(STATUS "acsweep: CUDA/NCCL not found under ${ACSWEEP_CUDA_ROOT}: CPU-only build")
  endif()
else()
  message(STATUS "acsweep: ACSWEEP_WITH_CUDA=OFF: CPU-only build")
endif()

# Debian's python3 with h5py/numpy/pandas/matplotlib/pytest; the python3 first on PATH may lack them.
find_program(ACSWEEP_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT ACSWEEP_PYTHON)
  find_program(ACSWEEP_PYTHON NAMES python3)
endif()

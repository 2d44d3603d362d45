# Every external dependency, found once. Debian's packages and the project venv's torch
# (scripts/bootstrap); on a cluster, point CMAKE_PREFIX_PATH at the site's MPI and parallel HDF5,
# and ACSWEEP_PYTHON at a python with a CUDA torch (or Torch_DIR at an unpacked libtorch).

# The project's python (scripts/bootstrap's venv): the tests' references and the world generator
# run in it, and unless Torch_DIR says otherwise the build links its torch's LibTorch.
set(ACSWEEP_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "The python whose torch the build links and with which the tests run their references")
if(NOT EXISTS "${ACSWEEP_PYTHON}")
  message(FATAL_ERROR "acsweep: no python at ACSWEEP_PYTHON='${ACSWEEP_PYTHON}'. Run scripts/bootstrap "
                      "(it makes .venv with the pinned torch), or pass -DACSWEEP_PYTHON=/path/to/python.")
endif()

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

# libjpeg-turbo (libjpeg62-turbo-dev) decodes JPEG, the library Pillow decodes with, so that
# pixels match Pillow's exactly; stb_image's header (libstb-dev) is compiled into acsweep to decode
# PNG (src/data/png.cpp says why not Debian's libstb).
find_package(JPEG REQUIRED)
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
add_library(acsweep_stb INTERFACE)
target_include_directories(acsweep_stb SYSTEM INTERFACE "${STB_INCLUDE_DIR}")

# tokenizer.json's byte-level BPE: PCRE2 (libpcre2-dev) runs the pre-tokenizer's regex with
# Unicode properties (\p{L}, \p{N}), utf8proc (libutf8proc-dev) normalises (NFC). Found by
# path, not pkg-config, so that CMAKE_PREFIX_PATH alone points at another copy.
find_path(PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
find_library(PCRE2_LIBRARY pcre2-8 REQUIRED)
find_path(UTF8PROC_INCLUDE_DIR utf8proc.h REQUIRED)
find_library(UTF8PROC_LIBRARY utf8proc REQUIRED)
add_library(acsweep_unicode INTERFACE)
target_include_directories(acsweep_unicode SYSTEM INTERFACE "${PCRE2_INCLUDE_DIR}" "${UTF8PROC_INCLUDE_DIR}")
target_link_libraries(acsweep_unicode INTERFACE "${PCRE2_LIBRARY}" "${UTF8PROC_LIBRARY}")

# LibTorch: the one inside ACSWEEP_PYTHON's torch (the CPU wheel here, pip's CUDA torch on a GPU
# cluster), or an unpacked libtorch archive through -DTorch_DIR=<libtorch>/share/cmake/Torch.
if(NOT Torch_DIR)
  execute_process(COMMAND "${ACSWEEP_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                  OUTPUT_VARIABLE ACSWEEP_TORCH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE torch_rc)
  if(NOT torch_rc EQUAL 0)
    message(FATAL_ERROR "acsweep: '${ACSWEEP_PYTHON}' cannot import torch: run scripts/bootstrap, or pass "
                        "-DTorch_DIR=<libtorch>/share/cmake/Torch.")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${ACSWEEP_TORCH_PREFIX}")
endif()
find_package(Torch 2 REQUIRED)
message(STATUS "acsweep: LibTorch ${Torch_VERSION} from ${Torch_DIR}")

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
    # The header's version, for `acsweep version`, which links no NCCL.
    file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
    set(ACSWEEP_NCCL_VERSION "")
    foreach(_part MAJOR MINOR PATCH)
      string(REGEX MATCH "NCCL_${_part} +([0-9]+)" _match "${_nccl_defines}")
      list(APPEND ACSWEEP_NCCL_VERSION "${CMAKE_MATCH_1}")
    endforeach()
    list(JOIN ACSWEEP_NCCL_VERSION "." ACSWEEP_NCCL_VERSION)
    message(STATUS "acsweep: CUDA ${CUDAToolkit_VERSION} and NCCL (${NCCL_LIBRARY}) found: NCCL backend on")
  else()
    message(STATUS "acsweep: CUDA/NCCL not found under ${ACSWEEP_CUDA_ROOT}: CPU-only build")
  endif()
else()
  message(STATUS "acsweep: ACSWEEP_WITH_CUDA=OFF: CPU-only build")
endif()

#!/usr/bin/env bash
# The GPU checks in one call, on a machine with CUDA, NCCL and a CUDA LibTorch: first the golden
# fixtures where transformers is installed (pure Python, written to FIXTURES), then builds acsweep
# against that LibTorch (TORCH_PREFIX, default: python3's torch; NCCL from /usr/local/cuda or
# python3's nvidia-nccl wheel) and runs the NCCL all-reduce and a Stage-2 step (float32 against
# the CPU, then under bf16 autocast) at 1 rank and at one rank per GPU (NCCL refuses two ranks on
# one GPU), and the fixture comparison. A few minutes.
#   tests/device/gpu_check.sh [BUILD_DIR] [FIXTURES]
set -uo pipefail
build=${1:-build-gpu}
fixtures=${2:-$build/fixtures}
status=0
if python3 -c 'import transformers' 2>/dev/null; then
  PYTHONUNBUFFERED=1 python3 tests/device/make_fixtures.py "$fixtures" || status=1
fi
prefix=${TORCH_PREFIX:-$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')}
nccl=()
if ! ls /usr/local/cuda/lib64/libnccl.so* >/dev/null 2>&1; then
  wheel=$(python3 -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null) &&
    nccl=(-DNCCL_INCLUDE_DIR="$wheel/include" -DNCCL_LIBRARY="$(ls "$wheel"/lib/libnccl.so* | head -1)")
fi
configure_and_build() {  # $1: the C++ standard
  cmake -S . -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release -DACSWEEP_BUILD_BENCH=OFF \
    -DCMAKE_CXX_STANDARD="$1" "${nccl[@]}" &&
    cmake --build "$build" -j"$(nproc)" --target test_gpu_training test_device_fixtures
}
# C++17 as everywhere else; a LibTorch whose headers need C++20 gets a second try with it.
configure_and_build 17 || { rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles" && configure_and_build 20; } || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 ACSWEEP_PYTHON=${ACSWEEP_PYTHON:-python3}
gpus=$(nvidia-smi -L | wc -l)
mpirun -np 1 "$build/tests/test_gpu_training" || status=1
if ((gpus > 1)); then mpirun -np "$gpus" "$build/tests/test_gpu_training" || status=1; fi
if [[ -d $fixtures ]]; then
  ACSWEEP_DEVICE_FIXTURES="$PWD/$fixtures" "$build/tests/test_device_fixtures" || status=1
fi
exit $status

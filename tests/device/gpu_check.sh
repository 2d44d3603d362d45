#!/usr/bin/env bash
# The GPU checks in one call, on a machine with CUDA, NCCL and a CUDA LibTorch: builds acsweep
# against that LibTorch (TORCH_PREFIX, default: python3's torch) and runs the NCCL all-reduce and
# a Stage-2 step at 1 rank and at one rank per GPU; then, where transformers is installed, the
# golden fixtures. A few minutes on one node.
#   tests/device/gpu_check.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build-gpu}
prefix=${TORCH_PREFIX:-$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')}
cmake -S . -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target test_gpu_training test_device_fixtures
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
gpus=$(nvidia-smi -L | wc -l)
mpirun -np 1 "$build/tests/test_gpu_training"
if ((gpus > 1)); then mpirun -np "$gpus" --oversubscribe "$build/tests/test_gpu_training"; fi
if python3 -c 'import transformers' 2>/dev/null; then
  python3 tests/device/make_fixtures.py "$build/fixtures"
  ACSWEEP_DEVICE_FIXTURES="$PWD/$build/fixtures" "$build/tests/test_device_fixtures"
fi

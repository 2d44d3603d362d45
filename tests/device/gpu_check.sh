#!/usr/bin/env bash
# The GPU checks in one call, on a machine with CUDA, python3 with a CUDA torch (its LibTorch and
# nvidia-nccl wheel) and CMake, but none of Debian's -dev packages: those come as .debs gathered
# here by scripts/gather_gpu_deps, carried in DEPS, unpacked into DEPS/root (tests/device/deps_env.sh).
# While acsweep builds against that folder and python3's torch, transformers writes the golden
# references; then the NCCL all-reduce and a Stage-2 step (float32 against the CPU, then under
# bf16 autocast) at 1 rank and at one rank per GPU, the golden comparison on the CPU build of
# the same binaries, the 1B-Llama Stage-2 bench (bench/train_shard_bench.cpp: every shard level
# on one GPU, step time, tokens/s, MFU and peak memory against the plan) and the 1B load bench
# (bench/llama_load.sh: host and GPU peaks, a part at a time against whole); ACSWEEP_GPU_BENCH=0
# skips both. Under 8 minutes on 16 cores, the build included.
#   tests/device/gpu_check.sh [--build-only] [DEPS] [BUILD_DIR]
# --build-only: configure and build, no GPU needed (tests/device/rehearse_gpu_build.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
build_only=false
[[ ${1:-} == --build-only ]] && { build_only=true; shift; }
deps=${1:-.gpu-deps}
build=${2:-build-gpu}
python=${ACSWEEP_GPU_PYTHON:-$(command -v python3)}
start=$(date +%s)
stamp() { echo "== gpu_check $(($(date +%s) - start)) s: $*"; }

# shellcheck source=deps_env.sh
source tests/device/deps_env.sh "$deps" || exit 1
export LD_LIBRARY_PATH=$DEPS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
stamp "unpacked $(ls "$deps"/debs/*/*.deb | wc -l) packages into $DEPS_ROOT"

status=0
golden_pid=
if ! $build_only; then
  mkdir -p "$build"
  # That machine has no diffusers: the diffusion goldens are made and compared on the CPU in CI.
  ACSWEEP_GOLDEN_WITHOUT_DIFFUSERS=1 PYTHONUNBUFFERED=1 "$python" tests/golden/make_golden.py "$build/golden" \
    >"$build/golden.log" 2>&1 &
  golden_pid=$!
fi

nccl=()
if ! ls "${ACSWEEP_CUDA_ROOT:-/usr/local/cuda}"/lib64/libnccl.so* >/dev/null 2>&1; then
  wheel=$("$python" -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null) &&
    nccl=(-DNCCL_INCLUDE_DIR="$wheel/include" -DNCCL_LIBRARY="$(ls "$wheel"/lib/libnccl.so* | head -1)")
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure_and_build() {  # $1: the C++ standard
  cmake -S . -B "$build" "${generator[@]}" -DACSWEEP_PYTHON="$python" -DCMAKE_BUILD_TYPE=Release \
    -DACSWEEP_BUILD_BENCH=ON -DCMAKE_CXX_STANDARD="$1" "${DEPS_CMAKE_ARGS[@]}" "${nccl[@]}" &&
    cmake --build "$build" -j"$(nproc)" --target acsweep test_gpu_training test_golden bench_train_shard \
      bench_llama_load
}
# C++17 as everywhere else; a LibTorch whose headers need C++20 gets a second try with it.
configure_and_build 17 || { rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles" && configure_and_build 20; } || exit 1
stamp "built"
"$build/src/acsweep" version --runtime
$build_only && exit 0

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 ACSWEEP_PYTHON=$python
nvidia-smi -L
gpus=$(nvidia-smi -L | wc -l)
mpirun -np 1 "$build/tests/test_gpu_training" || status=1
if ((gpus > 1)); then mpirun -np "$gpus" "$build/tests/test_gpu_training" || status=1; fi
stamp "GPU tests done"
if [[ ${ACSWEEP_GPU_BENCH:-1} != 0 ]]; then
  # A Llama of 1.1B parameters, 4 x 2048 tokens a step, one GPU: `none` keeps float32 weights under
  # bf16 autocast, the sharded levels hold bf16 weights over float32 masters; checkpointing off
  # and on, and `parameters` once without its prefetch. One JSON line each.
  for words in "none" "none checkpointing" "optimizer bf16" "optimizer bf16 checkpointing" "gradients bf16" \
    "gradients bf16 checkpointing" "parameters bf16" "parameters bf16 noprefetch"; do
    # shellcheck disable=SC2086  # the words are separate arguments
    OMP_NUM_THREADS=8 mpirun -np 1 "$build/bench/bench_train_shard" $words cuda 1b || status=1
  done
  stamp "1B bench done"
  # Loading the 1B Llama (BF16 on disk) onto the GPU a part at a time against whole on the host
  # first: the host's tensor peak and the GPU's peak allocated, float32 and bf16.
  bench/llama_load.sh "$build/bench/bench_llama_load" 1b cuda || status=1
  stamp "load bench done"
fi
if wait "$golden_pid"; then
  ACSWEEP_GOLDEN="$PWD/$build/golden" "$build/tests/test_golden" || status=1
else
  echo "gpu_check: make_golden.py failed:" && cat "$build/golden.log" && status=1
fi
stamp "finished, status $status"
exit $status

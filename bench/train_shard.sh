#!/usr/bin/env bash
# Sharded data parallel against the unsharded reducer at the same group size (bench/train_shard_bench.cpp):
# each level at 1, 2 and 4 ranks, one process group per line; step time and model state against
# `none`, and the largest rank's peak above its start against the memory plan, as the resident set
# and as the peak of tensor bytes (what the plan estimates; the resident set adds the heap's reuse). `parameters`
# recomputes every layer, so `gradients checkpointing` is its like-for-like baseline (and
# `parameters noprefetch` the same without the next layer's prefetch); the bf16
# lines hold bf16 weights over float32 master shards (CPU bf16 matmuls: their time says little).
#   cmake --build build --target bench_train_shard && bench/train_shard.sh
set -euo pipefail
bin=${1:-build/bench/bench_train_shard}
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1} OMPI_MCA_sharedfp=individual
# BENCH_RANKS and BENCH_LEVELS (levels separated by commas) choose a subset: a CPU without bf16
# instructions (AVX-512 BF16 or AMX) runs bf16 matmuls through a scalar fallback, minutes a step.
IFS=' ' read -r -a rank_counts <<<"${BENCH_RANKS:-1 2 4}"
IFS=',' read -r -a levels <<<"${BENCH_LEVELS:-none,optimizer,gradients,gradients checkpointing,parameters,parameters noprefetch,gradients bf16,parameters bf16}"
for ranks in "${rank_counts[@]}"; do
  base=""
  for level in "${levels[@]}"; do
    # shellcheck disable=SC2086  # the level's words are separate arguments
    line=$(mpirun -np "$ranks" --oversubscribe "$bin" $level)
    echo "$line"
    [[ -z $base ]] && base=$line
    python3 - "$base" "$line" <<'PY'
import json, sys
b, x = (json.loads(a) for a in sys.argv[1:])
print(f"  {x['ranks']} rank(s), {x['level']}: step {x['step_s']:.2f} s ({x['step_s'] / b['step_s']:.2f}x none); "
      f"model state per rank {x['plan_model_state_bytes'] / 2**20:.0f} MiB "
      f"({x['plan_model_state_bytes'] / b['plan_model_state_bytes']:.2f}x none); largest rank's peak above start "
      f"{x['peak_above_start_bytes'] / 2**20:.0f} MiB ({x['peak_above_start_bytes'] / b['peak_above_start_bytes']:.2f}x none), "
      f"plan {x['plan_bytes'] / 2**20:.0f} MiB (measured / plan {x['peak_above_start_bytes'] / x['plan_bytes']:.2f}); "
      f"largest rank's peak of tensor bytes {x['tensor_peak_bytes'] / 2**20:.0f} MiB "
      f"(/ plan {x['tensor_peak_bytes'] / x['plan_bytes']:.2f})")
if x.get("tensor_phase_peak_bytes", {}).get("forward"):
    print("    tensor peak by phase, MiB: " + ", ".join(
        f"{k} {v / 2**20:.0f}" for k, v in x["tensor_phase_peak_bytes"].items()))
PY
  done
done

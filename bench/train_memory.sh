#!/usr/bin/env bash
# Peak memory and step time of one training step (bench/train_memory_bench.cpp) with the loss on
# every logit (the baseline) or in recomputed chunks, and with or without activation
# checkpointing; each in its own process, ratios against the baseline.
#   cmake --build build --target bench_train_memory && bench/train_memory.sh
set -euo pipefail
bin=${1:-build/bench/bench_train_memory}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
base=""
for config in "full 0" "chunked 0" "full 1" "chunked 1"; do
  line=$("$bin" $config)
  echo "$line"
  [[ -z $base ]] && base=$line
  python3 - "$base" "$line" <<'PY'
import json, sys
b, x = (json.loads(a) for a in sys.argv[1:])
print(f"  peak memory {x['peak_rss_bytes'] / 2**20:.0f} MiB ({x['peak_rss_bytes'] / b['peak_rss_bytes']:.2f}x the "
      f"baseline), step {x['step_s']:.2f} s ({x['step_s'] / b['step_s']:.2f}x)")
if x["loss"] == "chunked":
    used = x["peak_rss_bytes"] - x["before_tensors_bytes"]
    print(f"  above the process start {used / 2**20:.0f} MiB; the memory plan says {x['plan_bytes'] / 2**20:.0f} MiB "
          f"(measured / plan {used / x['plan_bytes']:.2f})")
PY
done

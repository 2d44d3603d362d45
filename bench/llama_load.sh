#!/usr/bin/env bash
# Loading the LLM streamed, a part at a time (models::load_llama), against the whole model made
# on the host first (the baseline), in one process each (bench/llama_load_bench.cpp): time, the
# host's peak of tensor bytes and its peak resident set, each beside the model's own bytes.
#   cmake --build build --target bench_llama_load && bench/llama_load.sh [BIN] [1b] [cuda]
# Writes the random BF16 Llama once into ${BENCH_DIR:-/tmp/acsweep_llama_load}.
set -euo pipefail
bin=${1:-build/bench/bench_llama_load}
shift || true
size=() device=()
for word in "$@"; do
  case $word in
    1b) size=(1b) ;;
    cuda) device=(cuda) ;;
    *) echo "llama_load.sh: unknown word '$word'" >&2 && exit 2 ;;
  esac
done
dir=${BENCH_DIR:-/tmp/acsweep_llama_load}${size[*]:+-${size[*]}}
[[ -f $dir/model.safetensors ]] || "$bin" write "$dir" "${size[@]}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for dtype in "" bf16; do
  whole=$("$bin" whole "$dir" "${device[@]}" $dtype)
  streamed=$("$bin" streamed "$dir" "${device[@]}" $dtype)
  echo "$whole"
  echo "$streamed"
  python3 - "$whole" "$streamed" <<'PY'
import json, sys
w, s = (json.loads(a) for a in sys.argv[1:])
mib = lambda b: b / 2**20
print(f"  {s['parameters'] / 1e6:.0f}M parameters to {s['device']} in {s['dtype']} (model {mib(s['model_bytes']):.0f} MiB): "
      f"time {s['seconds']:.2f} s streamed, {w['seconds']:.2f} s whole ({s['seconds'] / w['seconds']:.2f}x); "
      f"host tensor peak {mib(s['host_tensor_peak_bytes']):.0f} MiB streamed, {mib(w['host_tensor_peak_bytes']):.0f} MiB whole "
      f"({s['host_tensor_peak_bytes'] / w['host_tensor_peak_bytes']:.2f}x); above what stays on the host: "
      f"{mib(s['host_tensor_peak_bytes'] - s['host_tensor_bytes_after']):.0f} MiB streamed, "
      f"{mib(w['host_tensor_peak_bytes'] - w['host_tensor_bytes_after']):.0f} MiB whole; "
      f"peak resident {mib(s['host_peak_resident_bytes']):.0f} MiB streamed, {mib(w['host_peak_resident_bytes']):.0f} MiB whole")
if s["device"] == "cuda":
    print(f"    GPU peak allocated {mib(s['gpu_peak_allocated_bytes']):.0f} MiB streamed, "
          f"{mib(w['gpu_peak_allocated_bytes']):.0f} MiB whole")
PY
done

#!/usr/bin/env bash
# Sharded checkpoint write throughput per rank against dd (bench/checkpoint_bench.cpp): at 1, 2
# and 4 ranks, the checkpoint of a 106M-parameter model sharded at `gradients` (master weights and
# both moments: 12 bytes per parameter over the ranks), then W dd processes in parallel writing
# the same bytes per rank with fsync, into the same folder; MB/s per rank and the ratio.
#   cmake --build build --target bench_checkpoint && bench/checkpoint_write.sh [DIR]
set -euo pipefail
bin=build/bench/bench_checkpoint
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/acsweep_checkpoint_bench.XXXXXX")}
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1} OMPI_MCA_sharedfp=individual
trap 'rm -rf "$dir"' EXIT
for ranks in 1 2 4; do
  rm -rf "${dir:?}"/*
  line=$(mpirun -np "$ranks" --oversubscribe "$bin" "$dir")
  bytes=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["bytes_per_rank"])' "$line")
  rm -rf "${dir:?}"/*
  best=1e9
  for _ in 1 2 3; do  # best of 3, as the checkpoint
    start=$(date +%s.%N)
    for ((r = 0; r < ranks; ++r)); do
      dd if=/dev/zero of="$dir/dd-$r" bs=1M count=$((bytes / 1048576)) conv=fsync status=none &
    done
    wait
    seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
    best=$(python3 -c "import sys; print(min(float(sys.argv[1]), float(sys.argv[2])))" "$best" "$seconds")
    rm -f "$dir"/dd-*
  done
  python3 - "$line" "$best" <<'PY'
import json, sys
x, dd = json.loads(sys.argv[1]), float(sys.argv[2])
mb = x["bytes_per_rank"] / 1e6
ours, theirs = mb / x["write_s"], int(x["bytes_per_rank"] / 1048576) * 1.048576 / dd
print(f"  {x['ranks']} rank(s): {mb:.0f} MB per rank; checkpoint {x['write_s']:.2f} s ({ours:.0f} MB/s per rank), "
      f"dd {dd:.2f} s ({theirs:.0f} MB/s per rank); checkpoint / dd throughput {ours / theirs:.2f}")
PY
done

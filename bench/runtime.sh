#!/usr/bin/env bash
# The runtime's costs, each beside its baseline (docs/PERFORMANCE.md):
#   coordinator round trip per task vs a raw MPI ping-pong (2 and 4 ranks),
#   result-row writes into a segment vs dd writing the same bytes,
#   parallel efficiency of heterogeneous tasks at 1, 2 and 4 ranks.
# Run from the repository root after scripts/build.
set -euo pipefail
bench=build/bench/bench_runtime
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi() { mpirun --oversubscribe -np "$1" "${@:2}"; }

for np in 2 4; do mpi "$np" "$bench" roundtrip 20000; done

dir=$(mktemp -d)
out=$("$bench" rows 20000 16 "$dir")
echo "$out" | grep -v '^BYTES'
bytes=$(echo "$out" | awk '/^BYTES/ {print $2}')
rows_s=$(echo "$out" | awk '/^BYTES/ {print $4}')
TIMEFORMAT=%R
dd_s=$( { time dd if=/dev/zero of="$dir/dd.bin" bs="$bytes" count=1 conv=fsync status=none; } 2>&1 )
awk -v r="$rows_s" -v d="$dd_s" -v b="$bytes" \
  'BEGIN {printf "dd of the same %d bytes (with fsync): %.4f s; segment rows / dd = %.1f\n", b, d, r / d}'
rm -rf "$dir"

for np in 1 2 4; do mpi "$np" "$bench" efficiency 300; done

#!/usr/bin/env bash
# The gradient reducer against one raw MPI_Allreduce and against one all-reduce per parameter, at
# 2 and 4 ranks, for a small (hidden 256, 4 layers) and a larger (hidden 1024, 8 layers) model.
#   cmake --build build --target bench_reducer && bench/reducer.sh
set -euo pipefail
bin=${1:-build/bench/bench_reducer}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
for ranks in 2 4; do
  for model in "256 4" "1024 8"; do
    mpirun -np "$ranks" --oversubscribe "$bin" $model
  done
done

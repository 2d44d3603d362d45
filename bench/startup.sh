#!/usr/bin/env bash
# Start-up time of the commands that need no model, beside /bin/true (the cost of starting any
# process here): the median wall time of RUNS runs of each, and the excess over /bin/true.
# Goal (issue 12): under 0.3 s for version, law, policy and inspect. `version --runtime` continues
# in acsweep-torch (LibTorch loaded, MPI started): the cost that the split into two executables
# keeps away from the other commands.
#   bench/startup.sh [RUNS] [ACSWEEP] [RUN_DIR]   (defaults: 11, build/src/acsweep, and a results
#   directory that a small policy-simulation job writes first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
acsweep=${2:-build/src/acsweep}
run_dir=${3:-}
table=jobs/data/law_paper_vicuna7b_15.csv
export OMP_NUM_THREADS=1
if [[ -z $run_dir ]]; then
  run_dir=$(mktemp -d)
  trap 'rm -rf "$run_dir"' EXIT
  "$acsweep" run jobs/policy_simulation.ini --set job.output="$run_dir" --set simulation.runs=20 \
    --set simulation.runs_per_task=10 >/dev/null 2>&1 || { echo "startup: the simulation job failed" >&2; exit 1; }
fi

median() {  # the command's median wall time in seconds over $runs runs
  local times=() start end
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "startup: '$*' failed" >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n "$((runs / 2 + 1))p"
}

base=$(median /bin/true)
printf '%-34s %8.3f s\n' "/bin/true" "$base"
report() {
  local name=$1 t
  shift
  t=$(median "$@")
  printf '%-34s %8.3f s   %+.3f s over /bin/true, ratio %.0fx\n' "$name" "$t" "$(echo "$t - $base" | bc)" \
    "$(echo "$t / $base" | bc -l)"
}
report "acsweep version" "$acsweep" version
report "acsweep law (15 settings)" "$acsweep" law "$table"
report "acsweep policy --budget 4 --runs 10" "$acsweep" policy "$table" --budget 4 --runs 10
report "acsweep inspect RUN_DIR" "$acsweep" inspect "$run_dir"
report "acsweep version --runtime (LibTorch)" "$acsweep" version --runtime

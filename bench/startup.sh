#!/usr/bin/env bash
# Start-up time of the commands that need no model, beside /bin/true (the cost of starting any
# process here): the median wall time of RUNS runs of each, and the excess over /bin/true.
# Goal (issue 12): under 0.3 s for version, law, policy and inspect.
#   bench/startup.sh [RUNS] [ACSWEEP] [RUN_DIR]   (defaults: 11, build/src/acsweep, results/demo/run;
#   inspect is timed where RUN_DIR is a results directory, e.g. after scripts/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
acsweep=${2:-build/src/acsweep}
run_dir=${3:-results/demo/run}
table=jobs/data/law_paper_vicuna7b_15.csv
export OMP_NUM_THREADS=1

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
if [[ -f $run_dir/run.json ]]; then
  report "acsweep inspect RUN_DIR" "$acsweep" inspect "$run_dir"
else
  echo "(inspect not timed: no results directory at $run_dir)"
fi

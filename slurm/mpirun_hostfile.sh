#!/bin/bash
# acsweep across several machines without Slurm: mpirun with a hostfile.
# The hostfile lists one machine per line with its number of ranks ("slots"), e.g.
#   node01 slots=8
#   node02 slots=8
# Every machine needs the same build at the same path and a shared results directory
# (the job's [job] output) that all of them can write.
#   slurm/mpirun_hostfile.sh hosts.txt jobs/policy_simulation.ini
set -euo pipefail
hostfile=${1:?usage: mpirun_hostfile.sh HOSTFILE JOB.ini}
job=${2:?usage: mpirun_hostfile.sh HOSTFILE JOB.ini}
slots=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^slots=/) n += substr($i, 7)} END {print n}' "$hostfile")

# -x passes environment variables to the ranks on the other machines.
# --map-by core --bind-to core keeps each rank on its own core.
# `kill -USR1 <mpirun pid>` stops gracefully (Ctrl-C kills at once; the journals keep every
# finished task either way); running the same command again continues.
mpirun --hostfile "$hostfile" -np "$slots" --map-by core --bind-to core \
  -x OMP_NUM_THREADS=1 -x HDF5_USE_FILE_LOCKING=FALSE \
  "$(pwd)/build/src/acsweep" run "$job"

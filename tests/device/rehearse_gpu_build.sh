#!/usr/bin/env bash
# Rehearses the GPU machine's build here: gathers the .debs (scripts/gather_gpu_deps), then, in a
# private mount namespace where this machine's own Open MPI, HDF5, Boost, Eigen, GTest,
# nlohmann-json, stb, libjpeg, PCRE2 and utf8proc headers, CMake packages and wrappers are hidden, runs
# tests/device/gpu_check.sh --build-only against the unpacked folder and this venv's CPU torch.
# Then checks that every package came from the folder: no hidden path in CMakeCache.txt, the
# binaries' MPI, HDF5, Boost, libjpeg and stb resolved inside it, and the relocated Open MPI
# starting two ranks. Needs root (unshare -m). About 15 minutes on 2 cores.
#   tests/device/rehearse_gpu_build.sh [DEPS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
deps=${1:-.gpu-deps}
build=${2:-build-gpu-rehearsal}
scripts/gather_gpu_deps "$deps"

hidden_dirs=(
  /usr/include/boost /usr/include/eigen3 /usr/include/nlohmann /usr/include/gtest /usr/include/gmock
  /usr/include/stb /usr/include/hdf5 /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/hdf5
  /usr/lib/x86_64-linux-gnu/pmix2 /usr/lib/x86_64-linux-gnu/cmake /usr/share/cmake/nlohmann_json
  /usr/share/eigen3 /usr/share/openmpi /etc/openmpi
)
hidden_headers=(/usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h /usr/include/pcre2.h /usr/include/utf8proc.h
  /usr/include/x86_64-linux-gnu/jconfig.h)
hidden_tools=(/usr/bin/mpicc /usr/bin/mpicxx /usr/bin/mpirun /usr/bin/mpiexec /usr/bin/h5pcc /usr/bin/orterun)

export ACSWEEP_GPU_PYTHON=$PWD/.venv/bin/python
# The folder's environment (Open MPI's relocation, PATH, DEPS_LIB) for the checks below; gpu_check.sh
# sets up the same for itself.
source tests/device/deps_env.sh "$deps" >/dev/null
unshare -m --propagation private bash -euo pipefail -c '
  empty=$(mktemp -d) poison=$(mktemp)
  echo "#error a system header was used instead of the carried folder" >"$poison"
  for d in '"${hidden_dirs[*]}"'; do [[ -d $d ]] && mount --bind "$empty" "$d"; done
  for f in '"${hidden_headers[*]}"'; do [[ -e $f ]] && mount --bind "$poison" "$f"; done
  for t in '"${hidden_tools[*]}"'; do [[ -e $t ]] && mount --bind /bin/false "$(readlink -f "$t")"; done
  tests/device/gpu_check.sh --build-only '"$deps $build"'
  # Two ranks through the relocated Open MPI (mpirun, orted and the plug-ins from the folder).
  export LD_LIBRARY_PATH=$DEPS_LIB OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
  mpirun --oversubscribe -np 2 '"$build"'/src/acsweep version --runtime | grep -q "world of 2" ||
    { echo "rehearsal: two ranks did not start through the carried Open MPI" >&2; exit 1; }
  echo "rehearsal: two ranks started through $(command -v mpirun)"
'

root=$DEPS_ROOT
bad=$(grep -E "^[A-Za-z0-9_]+:(FILEPATH|PATH)=" "$build/CMakeCache.txt" |
  grep -E "/usr/(include|lib/x86_64-linux-gnu)/(boost|eigen3|nlohmann|gtest|gmock|stb|hdf5|openmpi|cmake|lib(mpi|hdf5|boost|jpeg|stb|gtest|curl|sz|aec|crypto|ssl|pcre2|utf8proc))" |
  grep -v "$root" || true)
if [[ -n $bad ]]; then
  echo "rehearsal: CMake found packages outside $root:" >&2
  echo "$bad" >&2
  exit 1
fi
# As gpu_check.sh runs them: with the folder's libraries on LD_LIBRARY_PATH (Debian's libmpi has a
# RUNPATH of its own, which hides the binaries' RPATH from its dependencies).
for binary in "$build/src/acsweep" "$build/src/acsweep-torch" "$build/tests/test_gpu_training"; do
  outside=$(LD_LIBRARY_PATH=$DEPS_LIB ldd "$binary" | grep -E "lib(mpi|open-pal|open-rte|hdf5|boost|jpeg|stb|pcre2-8|utf8proc)" | grep -v "$root" || true)
  if [[ -n $outside ]]; then
    echo "rehearsal: $binary loads these from outside $root:" >&2
    echo "$outside" >&2
    exit 1
  fi
done
echo "rehearsal: built from $root alone; $(du -sh "$deps/debs" | cut -f1) of .debs to carry"

# Sourced by gpu_check.sh (and its rehearsal): unpacks the .debs that scripts/gather_gpu_deps
# gathered (DEPS/debs) with dpkg -x into DEPS/root, never into /, and points the build and Open
# MPI's run-time at that folder. A library of the "common" packages is dropped where the
# machine's own loader cache already has its soname, so the system's programs keep their own.
#   source tests/device/deps_env.sh DEPS
deps_env() {
  local deps debs deb file
  deps=$(cd "$1" && pwd) || return 1
  debs=$deps/debs
  if ! compgen -G "$debs/core/*.deb" >/dev/null; then
    echo "deps_env: no .deb files in $debs/core: run scripts/gather_gpu_deps first" >&2
    return 1
  fi
  DEPS_ROOT=$deps/root
  # Unpacked once per set of .debs (a rerun keeps the files, and the build stays up to date).
  local stamp
  stamp=$(cd "$debs" && ls core common | sha256sum | cut -c1-16)  # names carry the versions
  if [[ $(cat "$DEPS_ROOT/.unpacked" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$DEPS_ROOT" && mkdir -p "$DEPS_ROOT" || return 1
    for deb in "$debs"/core/*.deb; do dpkg -x "$deb" "$DEPS_ROOT" || return 1; done
    local system_sonames
    system_sonames=$(ldconfig -p | awk '{print $1}')
    for deb in "$debs"/common/*.deb; do
      dpkg -x "$deb" "$DEPS_ROOT" || return 1
      while read -r file; do
        [[ $file == *.so.* ]] || continue
        if grep -qxF "$(basename "$file")" <<<"$system_sonames"; then rm -f "$DEPS_ROOT/$file"; fi
      done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./||')
    done
    echo "$stamp" >"$DEPS_ROOT/.unpacked"
  fi
  local multiarch=x86_64-linux-gnu
  DEPS_LIB="$DEPS_ROOT/usr/lib/$multiarch:$DEPS_ROOT/lib/$multiarch:$DEPS_ROOT/usr/lib/$multiarch/openmpi/lib"
  DEPS_LIB+=":$DEPS_ROOT/usr/lib/$multiarch/pmix2/lib:$DEPS_ROOT/usr/lib/$multiarch/hdf5/openmpi"
  # Open MPI's install directories, moved under the folder (Debian's layout, relative to the prefix).
  export OPAL_PREFIX=$DEPS_ROOT/usr OPAL_EXEC_PREFIX=$DEPS_ROOT/usr OPAL_BINDIR=$DEPS_ROOT/usr/bin
  export OPAL_LIBDIR=$DEPS_ROOT/usr/lib/$multiarch/openmpi/lib
  export OPAL_INCLUDEDIR=$DEPS_ROOT/usr/lib/$multiarch/openmpi/include
  export OPAL_DATAROOTDIR=$DEPS_ROOT/usr/share OPAL_DATADIR=$DEPS_ROOT/usr/share
  export OPAL_PKGDATADIR=$DEPS_ROOT/usr/share/openmpi OPAL_SYSCONFDIR=$DEPS_ROOT/etc/openmpi
  export OPAL_PKGLIBDIR=$DEPS_ROOT/usr/lib/$multiarch/openmpi/lib/openmpi3
  local pmix=$DEPS_ROOT/usr/lib/$multiarch/pmix2
  export PMIX_PREFIX=$pmix PMIX_EXEC_PREFIX=$pmix PMIX_LIBDIR=$pmix/lib PMIX_PKGLIBDIR=$pmix/lib/pmix
  export PMIX_DATAROOTDIR=$pmix/share PMIX_DATADIR=$pmix/share PMIX_PKGDATADIR=$pmix/share/pmix
  # Transports whose drivers the folder lacks are skipped without a warning per rank.
  export OMPI_MCA_mca_base_component_show_load_errors=0
  # Debian names the launchers through alternatives, made at install time: made here instead.
  mkdir -p "$DEPS_ROOT/bin"
  ln -sf ../usr/bin/orterun "$DEPS_ROOT/bin/mpirun" && ln -sf ../usr/bin/orterun "$DEPS_ROOT/bin/mpiexec"
  export PATH=$DEPS_ROOT/bin:$DEPS_ROOT/usr/bin:$PATH
  # h5pcc is a script with Debian's paths written in: a copy that names the folder's and links the
  # shared libhdf5 alone (it names its own needs; the static link's extra -lcurl, -lsz and the
  # like want -dev links that the machine lacks).
  sed -e "s|^prefix=.*|prefix=\"$DEPS_ROOT/usr\"|" -e "s|^CCBASE=.*|CCBASE=\"$DEPS_ROOT/usr/bin/mpicc.openmpi\"|" \
    -e "s|^CLINKERBASE=.*|CLINKERBASE=\"$DEPS_ROOT/usr/bin/mpicc.openmpi\"|" -e 's|^H5BLD_LIBS=.*|H5BLD_LIBS=""|' \
    -e 's|^STATIC_AVAILABLE=.*|STATIC_AVAILABLE="no"|' \
    "$DEPS_ROOT/usr/bin/h5pcc.openmpi" >"$DEPS_ROOT/bin/h5pcc" && chmod +x "$DEPS_ROOT/bin/h5pcc"
  export DEPS_ROOT DEPS_LIB
  # What CMake needs to find every package in the folder and nowhere else.
  DEPS_CMAKE_ARGS=(
    -DCMAKE_PREFIX_PATH="$DEPS_ROOT/usr"
    -DMPI_C_COMPILER="$DEPS_ROOT/usr/bin/mpicc.openmpi" -DMPI_CXX_COMPILER="$DEPS_ROOT/usr/bin/mpicxx.openmpi"
    -DHDF5_C_COMPILER_EXECUTABLE="$DEPS_ROOT/bin/h5pcc"
    -DCMAKE_CXX_FLAGS="-isystem $DEPS_ROOT/usr/include/$multiarch"
    -DCMAKE_BUILD_RPATH="${DEPS_LIB//:/;}"
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags"
  )
}
deps_env "$@"

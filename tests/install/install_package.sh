# Installs this build into ./prefix and builds and runs two programs against
# the installed package only: C++ with find_package(ckpt) (consumer/), C with
# pkg-config (consumer.c). Each checkpoints on 2 ranks, then restarts and
# checks what it restored; the installed `ckpt` verifies their checkpoints.
set -euo pipefail

read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
BUILD=${CKPT_BUILD_DIR:?}
SRC=${CKPT_CONSUMER_SOURCE:?}
CMAKE=${CKPT_CMAKE:-cmake}
PKG_CONFIG=${CKPT_PKG_CONFIG:-pkg-config}

log() { printf '[install_package] %s\n' "$*"; }
fail() {
  printf '[install_package] FAIL: %s\n' "$*" >&2
  exit 1
}
mpi() { timeout -k 10 120 "${MPIEXEC[@]}" "$NP_FLAG" 2 "$@"; }

prefix=$PWD/prefix
rm -rf "$prefix" build-cxx ckpt-cxx ckpt-c consumer_c
for component in ckpt_runtime ckpt_development ckpt_tool; do
  "$CMAKE" --install "$BUILD" --prefix "$prefix" --component "$component" >install.log ||
    fail "cmake --install --component $component: $(cat install.log)"
done
log "installed into $prefix:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/    /')

# The package holds the public API only, the library, the tool and both package files.
libdir=$(dirname "$(find "$prefix" -name 'libckpt.so' | head -n 1)")
[[ -n $libdir && -d $libdir ]] || fail "no libckpt.so installed"
for f in include/ckpt/ckpt.h include/ckpt/ckpt.hpp bin/ckpt; do
  [[ -f $prefix/$f ]] || fail "$f is not installed"
done
[[ -f $libdir/cmake/ckpt/ckptConfig.cmake && -f $libdir/cmake/ckpt/ckptConfigVersion.cmake &&
  -f $libdir/cmake/ckpt/ckptTargets.cmake ]] || fail "the CMake package files are not installed"
[[ -f $libdir/pkgconfig/ckpt.pc ]] || fail "ckpt.pc is not installed"
leaked=$(find "$prefix/include" -type f ! -name ckpt.h ! -name ckpt.hpp ! -name ckpt_mod.mod)
[[ -z $leaked ]] || fail "internal headers installed: $leaked"
"$prefix/bin/ckpt" --version | grep -q '^ckpt (libckpt) ' || fail "the installed tool does not run"

# C++ through find_package(ckpt), in a project that knows nothing else of the build tree.
log "C++ consumer: find_package(ckpt) with CMAKE_PREFIX_PATH=$prefix"
"$CMAKE" -S "$SRC/consumer" -B build-cxx -G "${CKPT_GENERATOR:-Unix Makefiles}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="${CKPT_CXX:-c++}" \
  -DCMAKE_BUILD_TYPE=Release >configure.log 2>&1 || fail "configure: $(cat configure.log)"
grep -q "ckpt $(sed -n 's/^Version: //p' "$libdir/pkgconfig/ckpt.pc") found in $prefix/" configure.log ||
  fail "find_package did not use the installed package: $(cat configure.log)"
"$CMAKE" --build build-cxx >build.log 2>&1 || fail "build: $(cat build.log)"
mpi build-cxx/consumer write ckpt-cxx || fail "the C++ consumer could not checkpoint"
mpi build-cxx/consumer restart ckpt-cxx || fail "the C++ consumer could not restart"
"$prefix/bin/ckpt" verify ckpt-cxx || fail "the installed ckpt cannot verify the C++ consumer's checkpoint"

# C through pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cflags=$("$PKG_CONFIG" --cflags ckpt) || fail "pkg-config --cflags ckpt"
libs=$("$PKG_CONFIG" --libs ckpt) || fail "pkg-config --libs ckpt"
pc_libdir=$("$PKG_CONFIG" --variable=libdir ckpt)
[[ $(cd "$pc_libdir" && pwd -P) == $(cd "$libdir" && pwd -P) ]] ||
  fail "ckpt.pc points at $pc_libdir, not at the prefix it was installed in"
log "C consumer: ${CKPT_CC:-cc} consumer.c $cflags $libs"
# shellcheck disable=SC2086 # the flags are word lists
"${CKPT_CC:-cc}" -std=c11 -Wall -Wextra -Werror $cflags -o consumer_c "$SRC/consumer.c" $libs \
  -Wl,-rpath,"$pc_libdir" || fail "the C consumer does not build with pkg-config"
mpi ./consumer_c write ckpt-c || fail "the C consumer could not checkpoint"
mpi ./consumer_c restart ckpt-c || fail "the C consumer could not restart"
"$prefix/bin/ckpt" list ckpt-c --json >list.json || fail "ckpt list of the C consumer's checkpoint"
grep -q '"newest_committed": 1' list.json || fail "unexpected listing: $(cat list.json)"

# Fortran through find_package(ckpt) and ckpt::fortran, when libckpt has it.
if [[ -n ${CKPT_FC:-} ]]; then
  modfile=$prefix/include/ckpt/fortran/ckpt_mod.mod
  [[ -f $modfile ]] || fail "the Fortran module ckpt_mod.mod is not installed"
  log "Fortran consumer: find_package(ckpt), ckpt::fortran"
  rm -rf build-f ckpt-f
  "$CMAKE" -S "$SRC/consumer_f" -B build-f -G "${CKPT_GENERATOR:-Unix Makefiles}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_Fortran_COMPILER="$CKPT_FC" \
    -DCMAKE_BUILD_TYPE=Release >configure-f.log 2>&1 || fail "configure: $(cat configure-f.log)"
  "$CMAKE" --build build-f >build-f.log 2>&1 || fail "build: $(cat build-f.log)"
  printf 'dir = ckpt-f\n' >ckpt-f.ini
  mpi build-f/consumer_f write ckpt-f.ini || fail "the Fortran consumer could not checkpoint"
  mpi build-f/consumer_f restart ckpt-f.ini || fail "the Fortran consumer could not restart"
  "$prefix/bin/ckpt" verify ckpt-f || fail "the installed ckpt cannot verify the Fortran consumer's checkpoint"
else
  log "no Fortran interface in this build (CKPT_ENABLE_FORTRAN=OFF): Fortran consumer skipped"
fi

log "PASS"

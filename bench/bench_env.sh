# Sourced by the benchmark scripts of bench/: the MPI launcher, the build
# directory and a scratch directory. Not meant to be run on its own.
#
# Environment read here (all optional):
#   CKPT_MPIEXEC               launcher and its flags (the test suite sets it),
#                              default: mpiexec, plus --oversubscribe for Open MPI
#   CKPT_MPIEXEC_NUMPROC_FLAG  flag before the rank count, default -n
#   CKPT_BUILD_DIR             build tree holding bench/, apps/, mpi_wrappers/

bench_src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Sets the array MPIEXEC and NP_FLAG.
bench_launcher() {
  if [[ -n "${CKPT_MPIEXEC:-}" ]]; then
    read -r -a MPIEXEC <<<"$CKPT_MPIEXEC"
  else
    MPIEXEC=(mpiexec)
    if mpiexec --version 2>/dev/null | grep -q -E 'Open MPI|OpenRTE'; then
      MPIEXEC+=(--oversubscribe)
    fi
  fi
  NP_FLAG="${CKPT_MPIEXEC_NUMPROC_FLAG:--n}"
  # Open MPI refuses to run as root unless told; harmless elsewhere.
  export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}"
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
}

# Default build tree: $CKPT_BUILD_DIR, else <repo>/build.
bench_default_build() {
  if [[ -n "${CKPT_BUILD_DIR:-}" ]]; then
    echo "$CKPT_BUILD_DIR"
  else
    echo "$(cd "$bench_src_dir/.." && pwd)/build"
  fi
}

# Fails with a message unless the executable exists.
bench_require() {
  if [[ ! -x "$1" ]]; then
    echo "$(basename "$0"): $1 not found; build it first (cmake --build <build> --target $2)" >&2
    exit 2
  fi
}

# Creates a scratch directory under the current directory, removed on exit.
# Sets BENCH_WORK.
bench_scratch() {
  BENCH_WORK="$(mktemp -d "$PWD/.$(basename "$0" .sh).XXXXXX")"
  trap 'rm -rf "$BENCH_WORK"' EXIT
}

# Python 3 aggregates the JSON results of several runs.
bench_python() {
  if command -v python3 >/dev/null 2>&1; then
    PYTHON=python3
  else
    echo "$(basename "$0"): python3 is needed to combine the results" >&2
    exit 2
  fi
}

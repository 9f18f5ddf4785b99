#!/usr/bin/env bash
# Runs the whole test suite and the CI checks (docs/DEVELOPING.md, "CI"):
#
#   1. format    clang-format --dry-run --Werror on every tracked C/C++ file
#   2. build     configure with -DCKPT_WERROR=ON and build (BUILD_DIR)
#   3. tidy      clang-tidy (.clang-tidy) over libckpt/src, mpi_wrappers, tools
#   4. sanitize  a clang build with ASan+UBSan and the fuzzers (SANITIZE_DIR),
#                running the unit, MPI, PMPI and kill tests (ctest -L)
#   5. fuzz      each libFuzzer harness for CKPT_FUZZ_SECONDS (label fuzz)
#   6. test      ctest of the main build: unit tests, MPI tests at 1, 2 and 4
#                ranks, kill/restart integration tests, the tool and packaging
#                tests, and the Slurm end-to-end tests (skipped with a message
#                when Slurm cannot run). Its summary is the last thing printed.
#
# Every stage runs even when an earlier one failed (except what needs the
# build); the script exits non-zero if any stage failed. Arguments go to the
# main ctest run. Knobs (all stages run when CI=true, whatever they say):
#   CKPT_CI_FORMAT=0 CKPT_CI_TIDY=0 CKPT_CI_SANITIZE=0 CKPT_CI_FUZZ=0
#   BUILD_DIR (build), SANITIZE_DIR (build-sanitize), CKPT_FUZZ_SECONDS (30)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SANITIZE_DIR=${SANITIZE_DIR:-build-sanitize}
JOBS=$(nproc)
FUZZ_SECONDS=${CKPT_FUZZ_SECONDS:-30}

enabled() { # enabled KNOB: 0 only when the knob says 0 and this is not CI
  [[ ${CI:-} == true ]] && return 0
  [[ ${!1:-1} != 0 ]]
}

STAGES=()
FAILED=()
section() { printf '\n======== %s ========\n' "$*"; }
# stage NAME COMMAND...: runs a stage, records its time and outcome.
stage() {
  local name=$1 start rc
  shift
  section "$name"
  start=$SECONDS
  "$@"
  rc=$?
  STAGES+=("$(printf '%-9s %-6s %4ds' "$name" "$( ((rc == 0)) && echo ok || echo FAILED)" \
    $((SECONDS - start)))")
  ((rc == 0)) || FAILED+=("$name")
  return "$rc"
}

format_check() {
  local files
  mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.h' '*.hpp')
  echo "clang-format-14 --dry-run --Werror on ${#files[@]} tracked files"
  clang-format-14 --dry-run --Werror "${files[@]}"
}

build_main() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCKPT_WERROR=ON \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null &&
    cmake --build "$BUILD_DIR" -j"$JOBS"
}

tidy() {
  # The project's own sources only (not the generated wrappers, not tests).
  local root
  root=$(pwd)
  run-clang-tidy-14 -quiet -j"$JOBS" -p "$BUILD_DIR" \
    "^$root/libckpt/src/[^/]+\.cpp$" "^$root/mpi_wrappers/[^/]+\.cpp$" \
    "^$root/tools/[^/]+\.cpp$" 2>&1 | grep -v -E '^([0-9]+ warnings? (and [0-9]+ errors? )?generated\.|clang-tidy-14 .* -quiet )'
  return "${PIPESTATUS[0]}"
}

build_sanitize() {
  # clang: the fuzzers need libFuzzer. Fortran is off (gfortran would link
  # gcc's sanitizer runtime next to clang's); the benchmarks are not needed.
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$SANITIZE_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCKPT_SANITIZE=address,undefined -DCKPT_BUILD_FUZZERS=ON -DCKPT_FUZZ_SECONDS="$FUZZ_SECONDS" \
    -DCKPT_ENABLE_FORTRAN=OFF -DCKPT_BUILD_BENCH=OFF -DCKPT_WERROR=ON >/dev/null &&
    cmake --build "$SANITIZE_DIR" -j"$JOBS"
}

sanitize_tests() {
  (cd "$SANITIZE_DIR" && ctest --output-on-failure -j"$JOBS" -L 'unit|mpi|kill' -LE fuzz)
}

fuzz() {
  # Two harnesses at a time on two cores; each prints libFuzzer's final
  # statistics (executions, exec/s, coverage), shown again below.
  (
    cd "$SANITIZE_DIR" || exit 1
    ctest --output-on-failure -j"$JOBS" -L fuzz
    rc=$?
    grep -h -E '^[0-9]+/[0-9]+ Test: fuzz_|DONE +cov:|^stat::(number_of_executed_units|average_exec_per_sec)' \
      Testing/Temporary/LastTest.log
    exit "$rc"
  )
}

section "dependencies"
if enabled CKPT_CI_FORMAT || enabled CKPT_CI_TIDY || enabled CKPT_CI_SANITIZE || enabled CKPT_CI_FUZZ; then
  bash scripts/install-deps.sh --ci || exit 1
else
  bash scripts/install-deps.sh || exit 1
fi

if enabled CKPT_CI_FORMAT; then stage format format_check; fi
stage build build_main
BUILD_OK=$?
if enabled CKPT_CI_TIDY; then
  if ((BUILD_OK == 0)); then stage tidy tidy; else FAILED+=(tidy); fi
fi
if enabled CKPT_CI_SANITIZE || enabled CKPT_CI_FUZZ; then
  if stage sanitize-build build_sanitize; then
    if enabled CKPT_CI_SANITIZE; then stage sanitize sanitize_tests; fi
    if enabled CKPT_CI_FUZZ; then stage fuzz fuzz; fi
  fi
fi

section "summary of the stages before the main tests"
printf '  %s\n' "${STAGES[@]}"
if ((${#FAILED[@]} > 0)); then
  echo "FAILED STAGES: ${FAILED[*]} (the script exits non-zero whatever ctest says)"
fi
((BUILD_OK == 0)) || exit 1

section "tests (ctest of $BUILD_DIR)"
cd "$BUILD_DIR" || exit 1
ctest --output-on-failure -j"$JOBS" "$@"
rc=$?
((${#FAILED[@]} == 0)) || exit 1
exit "$rc"

#!/usr/bin/env bash
# run_call_overhead.sh: nanoseconds the interposition layer adds per MPI
# call, single-threaded (MPI_THREAD_SINGLE: the layer lock is off) and with
# MPI_THREAD_MULTIPLE granted (the lock is taken per call). Runs
# <build>/bench/call_overhead on one rank without and with
# LD_PRELOAD=libckpt_pmpi.so, --rounds times each in alternation, and prints
# per loop and thread level the median ns per iteration of each and the
# difference (what the layer adds). --before LIB adds a column for another
# build of the layer (e.g. the main branch's) in the same run, single-
# threaded only.
#
# Usage: bench/run_call_overhead.sh [--build DIR] [--rounds N] [--before LIB]
#   e.g. bench/run_call_overhead.sh --build build --rounds 5
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
rounds=5
before=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --before) before="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_call_overhead.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_launcher
bench_python
program="$build/bench/call_overhead"
bench_require "$program" bench_call_overhead
pmpi="$build/mpi_wrappers/libckpt_pmpi.so"
bench_scratch

one() { # one LABEL LEVEL [PRELOAD]: appends "label level loop ns" lines
  local preload=()
  [[ -n ${3:-} ]] && preload=(env LD_PRELOAD="$3" CKPT_DIR="$BENCH_WORK/ckpt")
  "${MPIEXEC[@]}" "$NP_FLAG" 1 "${preload[@]}" "$program" --thread-level "$2" \
    | sed "s/^/$1 $2 /" >>"$BENCH_WORK/all.txt"
}
for ((r = 0; r < rounds; ++r)); do
  for level in single multiple; do
    one plain $level
    one layer $level "$pmpi"
    # Before this branch, the layer refused MPI_THREAD_MULTIPLE.
    [[ -z $before || $level == multiple ]] || one before $level "$before"
  done
done
"$PYTHON" - "$BENCH_WORK/all.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, level, loop, ns = line.split()
    rows.setdefault((level, loop), {}).setdefault(label, []).append(float(ns))
print(f"{'thread level':<13}{'loop':<12}{'plain ns':>10}{'layer ns':>10}{'added ns':>10}"
      f"{'before ns':>11}{'added ns':>10}")
for (level, loop), by in rows.items():
    med = {k: statistics.median(v) for k, v in by.items()}
    line = (f"{level:<13}{loop:<12}{med['plain']:>10.1f}{med['layer']:>10.1f}"
            f"{med['layer'] - med['plain']:>10.1f}")
    if 'before' in med:
        line += f"{med['before']:>11.1f}{med['before'] - med['plain']:>10.1f}"
    print(line)
PY

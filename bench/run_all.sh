#!/usr/bin/env bash
# run_all.sh: every benchmark of bench/ with its default settings, one after
# the other, keeping the printed tables (<name>.txt) and the JSON results in
# an output directory. On the 2-core reference machine it takes about
# 7 minutes; see bench/README.md for what each part measures.
#
# Usage: bench/run_all.sh [--build DIR] [--out DIR]
#   e.g. bench/run_all.sh --build build --out bench-results
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
out="bench-results"

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_launcher
mkdir -p "$out"
out="$(cd "$out" && pwd)"
here="$bench_src_dir"

step() { echo "== $1 ($(date +%H:%M:%S), load average $(cut -d' ' -f1 /proc/loadavg))" >&2; }

step "hash, 1 and 2 ranks"
for n in 1 2; do
  "${MPIEXEC[@]}" "$NP_FLAG" "$n" "$build/bench/hash" --json-file "$out/hash.np$n.json" \
    | tee "$out/hash.np$n.txt"
done
step "ping-pong with and without the interposition layer"
"$here/run_pingpong.sh" --build "$build" --rounds 7 --json "$out/pingpong.json" \
  | tee "$out/pingpong.txt"
step "interposition cost per call, single-threaded and MPI_THREAD_MULTIPLE"
"$here/run_call_overhead.sh" --build "$build" | tee "$out/call_overhead.txt"
step "checkpoint with messages in flight (drain), 2 ranks"
"${MPIEXEC[@]}" "$NP_FLAG" 2 "$build/bench/drain" --dir "$out/drain.ckpt" | tee "$out/drain.txt"
rm -rf "$out/drain.ckpt"
step "checkpoint write, 1, 2 and 4 ranks"
"$here/run_ckpt.sh" --build "$build" --json "$out" write | tee "$out/ckpt_write.txt"
step "restart, 1, 2 and 4 ranks"
"$here/run_ckpt.sh" --build "$build" --json "$out" restart | tee "$out/ckpt_restart.txt"
step "heat overhead"
"$here/heat_overhead.sh" --build "$build" --json "$out/heat_overhead.json" \
  | tee "$out/heat_overhead.txt"
step "done: results in $out"

#!/usr/bin/env bash
# run_skew.sh: what one late rank costs the others at a checkpoint, in both
# protocols, and the time from request to commit.
#
# Runs <build>/bench/skew (4 ranks, the layer preloaded, fsync off) with
# protocol = blocking and protocol = nonblocking, --rounds times each,
# alternating. Target (issue 8): in nonblocking mode the ranks that are on
# time lose at most their own local write + 10 ms when one rank reaches its
# site 2 s late.
#
# Usage: bench/run_skew.sh [--build DIR] [--rounds N] [--np N] [-- options passed to skew]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

build="$(bench_default_build)"
rounds=3
np=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) echo "run_skew.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_launcher
build="$(cd "$build" && pwd)"
skew="$build/bench/skew"
bench_require "$skew" bench_skew
pmpi="$build/mpi_wrappers/libckpt_pmpi.so"
bench_scratch

for ((r = 1; r <= rounds; r++)); do
  for protocol in blocking nonblocking; do
    echo "== round $r/$rounds, protocol = $protocol"
    (cd "$BENCH_WORK" &&
      "${MPIEXEC[@]}" "$NP_FLAG" "$np" env LD_PRELOAD="$pmpi" CKPT_PROTOCOL="$protocol" \
        CKPT_FSYNC=false CKPT_LOG_LEVEL=warning "$skew" "$@")
  done
done

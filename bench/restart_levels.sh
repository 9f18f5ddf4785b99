#!/usr/bin/env bash
# restart_levels.sh: restart from the local level against restart from the
# global level, the same state in the same run.
#
# apps/heat (--np ranks, NX x NX doubles) checkpoints every step; one rank
# SIGKILLs itself in the background flush of version 3 (CKPT_DEBUG_KILL), so
# that version 3 is on the local level only and version 2 on both. Then,
# --reps times: a restart with the local level (version 3), and one with
# CKPT_LOCAL_DIR=none (version 2 from the global level) after dropping the
# page cache (as root; /dev/shm is not dropped). Prints libckpt's restart
# lines (time, bandwidth, phases).
#
# (-x NAME: Open MPI's way to pass a variable to the ranks.)
#
# Usage: bench/restart_levels.sh [--build DIR] [--np N] [--nx N] [--reps R]
#   e.g. bench/restart_levels.sh --build build --np 4 --nx 11584   # 1 GiB
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
np=4
nx=11584
reps=3

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --nx) nx="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "restart_levels.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_launcher
heat="$build/apps/heat/heat"
bench_require "$heat" heat
bench_scratch
cd "$BENCH_WORK"
export CKPT_LOCAL_DIR=$PWD/local
grid=(--nx "$nx" --ny "$nx" --checkpoint-every 1 --dir global)
CKPT_DEBUG_KILL=flush_start:3:0 "${MPIEXEC[@]}" -x CKPT_DEBUG_KILL -x CKPT_LOCAL_DIR \
  "$NP_FLAG" "$np" "$heat" "${grid[@]}" --steps 3 >killed.txt 2>&1 || true
for ((rep = 1; rep <= reps; ++rep)); do
  "${MPIEXEC[@]}" -x CKPT_LOCAL_DIR "$NP_FLAG" "$np" "$heat" "${grid[@]}" --steps 3 --restart 2>&1 |
    sed -n 's/^.*info: \(restart from .*\)$/local:  \1/p'
  sync
  echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop the page cache: not root)"
  CKPT_LOCAL_DIR=none "${MPIEXEC[@]}" -x CKPT_LOCAL_DIR "$NP_FLAG" "$np" "$heat" "${grid[@]}" \
    --steps 2 --restart 2>&1 | sed -n 's/^.*info: \(restart from .*\)$/global: \1/p'
done

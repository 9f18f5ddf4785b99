#!/usr/bin/env bash
# dirty_tracking=auto (the default) on heat, which writes every page at every
# step: auto must keep hashing the grid (page tracking would only add write
# faults), say so once per region in the debug log, and never track it by
# pages; the result is the one of dirty_tracking=hash, bit for bit.
#
# usage: heat_auto_tracking.sh HEAT NP
set -euo pipefail
HEAT=$1
NP=$2
source "$(dirname "$0")/common.sh"
unset CKPT_DIRTY_TRACKING

# 2048 x 1024 doubles: 16 MiB, more than auto's 4 MiB threshold on each rank.
GRID=(--nx 2048 --ny 1024 --steps 40 --checkpoint-every 10)
rm -rf auto hash && mkdir auto hash
export CKPT_LOG_LEVEL=debug
forward_env CKPT_LOG_LEVEL CKPT_DIRTY_TRACKING
MPIEXEC+=("${FORWARD[@]}")

run_heat "$NP" auto/out.txt "${GRID[@]}" --dir auto/ckpt
((RC == 0)) || fail "heat (auto) exited with $RC"
grep -q "region 0 'temperature' .*auto keeps hashing ([0-9]* of [0-9]* blocks changed)" \
  auto/out.txt || fail "auto did not report keeping hashing for the grid"
if grep -q "region 0 'temperature'.*dirty tracking by pages" auto/out.txt; then
  fail "auto tracked heat's grid by pages"
fi
export CKPT_DIRTY_TRACKING=hash
run_heat "$NP" hash/out.txt "${GRID[@]}" --dir hash/ckpt
((RC == 0)) || fail "heat (hash) exited with $RC"
[[ $(checksum_of auto/out.txt) == "$(checksum_of hash/out.txt)" ]] ||
  fail "auto and hash runs differ"
rm -rf auto hash
log "PASS"

#!/usr/bin/env bash
# Kills heat with SIGKILL at a random step (one rank, or the whole job),
# restarts it with --restart and checks that the final field is bit-for-bit
# the one of an uninterrupted run.
#
# usage: heat_kill_random.sh HEAT NP
set -euo pipefail
HEAT=$1
NP=$2
source "$(dirname "$0")/common.sh"

GRID=(--nx 256 --ny 256)
STEPS=200
EVERY=20
seed_random

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

# A step after the first checkpoint and before the end.
kill_and_restart "$NP" "$STEPS" "$EVERY" $((EVERY + 1)) "${GRID[@]}"
expect_same_checksum run/restarted.txt "$REFERENCE" "killed after step $KILL_STEP, restarted at step $STEP"
rm -rf ref run
log "PASS"

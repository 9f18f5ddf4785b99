#!/usr/bin/env bash
# Kills wildfire (the sparse example: only the fire fronts change) with
# SIGKILL at a random step after a few checkpoints (one rank, or the whole
# job), restarts it with --restart and checks that the final landscape is
# bit-for-bit the one of an uninterrupted run, which is also the one of an
# uninterrupted run on 1 rank. Checks too that its checkpoints were deltas
# that wrote a small share of the blocks.
#
# usage: wildfire_kill_restart.sh WILDFIRE NP
set -euo pipefail
# shellcheck disable=SC2034 # APP is used by common.sh
APP=$1
NP=$2
source "$(dirname "$0")/common.sh"

# 256x256 cells in 16x16 patches (2 MiB of state), small blocks so that the
# deltas have something to skip; a base every 4 checkpoints.
LAND=(--nx 256 --ny 256 --patch 16 --fires 6 --fire-every 15)
STEPS=120
EVERY=10
seed_random

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${LAND[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)
if ((NP > 1)); then
  reference_checksum 1 ref/one.txt "${LAND[@]}" --steps "$STEPS" --dir ref/ckpt1
  [[ $(checksum_of ref/one.txt) == "$REFERENCE" ]] ||
    fail "1 rank gives checksum $(checksum_of ref/one.txt), $NP ranks $REFERENCE"
  log "1 and $NP ranks give the same checksum $REFERENCE"
fi

printf 'block_size = 8KiB\nbase_every = 4\n' >run/ckpt.ini
# A step after the third checkpoint and before the end.
kill_and_restart "$NP" "$STEPS" "$EVERY" $((3 * EVERY + 1)) "${LAND[@]}" --config run/ckpt.ini
expect_same_checksum run/restarted.txt "$REFERENCE" "killed after step $KILL_STEP, restarted at step $STEP"

# The deltas: every one wrote less than a third of the blocks, and they
# were most of the checkpoints (a base every 4).
cat run/killed.txt run/restarted.txt >run/all.txt
DELTAS=$(grep -c 'checkpoint version [0-9]* (delta of base' run/all.txt || true)
BASES=$(grep -c 'checkpoint version [0-9]* (base,' run/all.txt || true)
((DELTAS >= 2 * BASES && DELTAS > 0)) || fail "$DELTAS delta(s) for $BASES base(s)"
WORST=$(sed -n 's/.*(delta of base .*, \([0-9.]*\)% of blocks dirty.*/\1/p' run/all.txt | sort -g | tail -1)
awk -v worst="$WORST" 'BEGIN { exit !(worst < 33.3) }' ||
  fail "a delta wrote $WORST% of the blocks; the fronts should dirty far fewer"
log "$DELTAS delta(s) and $BASES base(s); the largest delta wrote $WORST% of the blocks"
rm -rf ref run
log "PASS"

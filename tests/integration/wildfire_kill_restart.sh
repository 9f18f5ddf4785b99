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
KILL_STEP=$((3 * EVERY + 1 + RANDOM % (STEPS - 3 * EVERY - 1)))
if ((NP > 1 && RANDOM % 2 == 0)); then
  TARGET=job
else
  TARGET=$((RANDOM % NP))
fi
log "plan: kill at step $KILL_STEP of $STEPS (checkpoint every $EVERY), target: $([[ $TARGET == job ]] && echo 'the whole job' || echo "rank $TARGET")"

start_app "$NP" run/killed.txt "${LAND[@]}" --steps "$STEPS" --checkpoint-every "$EVERY" \
  --dir run/ckpt --config run/ckpt.ini --sleep-ms 10 --print-every 1
wait_for_output "^step $KILL_STEP\$" || fail "wildfire ended before step $KILL_STEP"
if [[ $TARGET == job ]]; then kill_job; else kill_rank "$TARGET"; fi
wait_job
((RC != 0)) || fail "the killed run exited with 0"
if grep -q '^checksum ' run/killed.txt; then fail "the killed run finished anyway"; fi

report_interrupted run/ckpt
COMMITTED=$(newest_commit run/ckpt)
((COMMITTED >= 3)) || fail "fewer than 3 committed checkpoints although step $KILL_STEP was reached"

run_app "$NP" run/restarted.txt "${LAND[@]}" --steps "$STEPS" --checkpoint-every "$EVERY" \
  --dir run/ckpt --config run/ckpt.ini --restart
((RC == 0)) || fail "the restarted run failed"
VERSION=$(restarted_version run/restarted.txt)
STEP=$(restarted_step run/restarted.txt)
[[ -n $VERSION ]] || fail "the restarted run did not say which version it restarted from"
((VERSION == COMMITTED)) || fail "restarted from version $VERSION, not the newest committed $COMMITTED"
((STEP % EVERY == 0 && STEP >= KILL_STEP / EVERY * EVERY && STEP < STEPS)) ||
  fail "restarted at step $STEP; expected a multiple of $EVERY from $((KILL_STEP / EVERY * EVERY)) on"
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

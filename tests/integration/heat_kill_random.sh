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
KILL_STEP=$((EVERY + 1 + RANDOM % (STEPS - EVERY - 1)))
if ((NP > 1 && RANDOM % 2 == 0)); then
  TARGET=job
else
  TARGET=$((RANDOM % NP))
fi
log "plan: kill at step $KILL_STEP of $STEPS (checkpoint every $EVERY), target: $([[ $TARGET == job ]] && echo 'the whole job' || echo "rank $TARGET")"

start_heat "$NP" run/killed.txt "${GRID[@]}" --steps "$STEPS" --checkpoint-every "$EVERY" \
  --dir run/ckpt --sleep-ms 10 --print-every 1
wait_for_output "^step $KILL_STEP\$" || fail "heat ended before step $KILL_STEP"
if [[ $TARGET == job ]]; then kill_job; else kill_rank "$TARGET"; fi
wait_job
((RC != 0)) || fail "the killed run exited with 0"
if grep -q '^checksum ' run/killed.txt; then fail "the killed run finished anyway"; fi

report_interrupted run/ckpt
COMMITTED=$(newest_commit run/ckpt)
((COMMITTED >= 1)) || fail "no committed checkpoint although step $KILL_STEP was reached"

run_heat "$NP" run/restarted.txt "${GRID[@]}" --steps "$STEPS" --checkpoint-every "$EVERY" \
  --dir run/ckpt --restart
((RC == 0)) || fail "the restarted run failed"
VERSION=$(restarted_version run/restarted.txt)
STEP=$(restarted_step run/restarted.txt)
[[ -n $VERSION ]] || fail "the restarted run did not say which version it restarted from"
((VERSION == COMMITTED)) || fail "restarted from version $VERSION, not the newest committed $COMMITTED"
((STEP % EVERY == 0 && STEP >= KILL_STEP / EVERY * EVERY && STEP < STEPS)) ||
  fail "restarted at step $STEP; expected a multiple of $EVERY from $((KILL_STEP / EVERY * EVERY)) on"
expect_same_checksum run/restarted.txt "$REFERENCE" "killed after step $KILL_STEP, restarted at step $STEP"
rm -rf ref run
log "PASS"

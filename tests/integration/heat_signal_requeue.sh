#!/usr/bin/env bash
# The scheduler's warning signal: SIGUSR1 (libckpt's default `signal`) to one
# rank makes every rank checkpoint at the next step and exit with
# CKPT_EXIT_REQUEUE (85); the requeued run restarts from that checkpoint and
# ends with the clean field.
#
# usage: heat_signal_requeue.sh HEAT NP
set -euo pipefail
HEAT=$1
NP=$2
source "$(dirname "$0")/common.sh"

GRID=(--nx 128 --ny 128)
STEPS=200
RUN=(--steps "$STEPS" --checkpoint-every 0 --dir run/ckpt)
seed_random

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

SIGNAL_STEP=$((10 + RANDOM % 100))
SIGNAL_RANK=$((RANDOM % NP))
log "plan: SIGUSR1 to rank $SIGNAL_RANK once step $SIGNAL_STEP is printed"
start_heat "$NP" run/signalled.txt "${GRID[@]}" "${RUN[@]}" --sleep-ms 10 --print-every 1
wait_for_output "^step $SIGNAL_STEP\$" || fail "heat ended before step $SIGNAL_STEP"
kill_rank "$SIGNAL_RANK" USR1
wait_job
((RC == 85)) || fail "exit code $RC after the checkpoint signal, expected 85 (CKPT_EXIT_REQUEUE)"
if grep -q '^checksum ' run/signalled.txt; then fail "the signalled run did not stop"; fi
COMMITTED=$(newest_commit run/ckpt)
((COMMITTED >= 1)) || fail "no committed checkpoint after the signal"
SAVED_STEP=$(sed -n 's/^checkpointed at step \([0-9]\+\) on a signal.*/\1/p' run/signalled.txt)
[[ -n $SAVED_STEP ]] || fail "heat did not say at which step it checkpointed"
((SAVED_STEP >= SIGNAL_STEP && SAVED_STEP < STEPS)) ||
  fail "checkpointed at step $SAVED_STEP, expected a step from $SIGNAL_STEP on"

run_heat "$NP" run/requeued.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the requeued run failed"
[[ $(restarted_version run/requeued.txt) == "$COMMITTED" ]] ||
  fail "the requeued run did not restart from version $COMMITTED"
[[ $(restarted_step run/requeued.txt) == "$SAVED_STEP" ]] ||
  fail "the requeued run did not restart at step $SAVED_STEP"
expect_same_checksum run/requeued.txt "$REFERENCE" "signal at step $SIGNAL_STEP, requeued from step $SAVED_STEP"
rm -rf ref run
log "PASS"

#!/usr/bin/env bash
# Repeated SIGKILLs at random moments of a run that checkpoints every step,
# so that kills land in computation, halo exchange and checkpoint writes
# alike. Every round restarts (--restart=auto) in the same directory from
# wherever the previous round died and is killed again a random number of
# steps and milliseconds later; each restart must come from the newest
# committed version, and the last run, left to complete, must produce the
# clean run's field bit for bit.
#
# usage: heat_kill_chaos.sh HEAT NP ROUNDS
set -euo pipefail
HEAT=$1
NP=$2
ROUNDS=$3
source "$(dirname "$0")/common.sh"

GRID=(--nx 128 --ny 128)
STEPS=$((ROUNDS * 40 + 20))
RUN=(--steps "$STEPS" --checkpoint-every 1 --sleep-ms 2 --print-every 1 --dir run/ckpt)
seed_random

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

for ((round = 1; round <= ROUNDS; ++round)); do
  committed=$(newest_on_some_level run/ckpt "$NP")
  log "round $round: newest committed version $committed"
  start_heat "$NP" "run/round$round.txt" "${GRID[@]}" "${RUN[@]}" --restart=auto
  wait_for_output '^(restarted from version|no checkpoint found)' ||
    fail "round $round: heat ended before it restarted"
  step=$(restarted_step "run/round$round.txt")
  # Kill once step `kill_step` has been printed (its checkpoint is then
  # committed) plus a random delay of up to a few steps, so that the kill
  # lands anywhere in the cycle of sleep, exchange, update and checkpoint.
  kill_step=$((${step:-0} + 1 + RANDOM % 40))
  delay_ms=$((RANDOM % 40))
  if ((NP > 1 && RANDOM % 2 == 0)); then target=job; else target=$((RANDOM % NP)); fi
  log "round $round: kill $([[ $target == job ]] && echo 'the whole job' || echo "rank $target") ${delay_ms} ms after step $kill_step"
  wait_for_output "^step $kill_step\$" || fail "round $round: heat ended before step $kill_step"
  sleep "0.$(printf '%03d' "$delay_ms")"
  if [[ $target == job ]]; then kill_job; else kill_rank "$target"; fi
  wait_job
  report_interrupted run/ckpt
  if grep -q '^checksum ' "run/round$round.txt"; then fail "round $round: heat finished despite the kill"; fi
  ((RC != 0)) || fail "round $round: the killed run exited with 0"
  if ((committed > 0)); then
    version=$(restarted_version "run/round$round.txt")
    [[ $version == "$committed" ]] ||
      fail "round $round restarted from version '$version', the newest committed was $committed"
  fi
done

committed=$(newest_on_some_level run/ckpt "$NP")
log "final round: newest committed version $committed; run to the end"
run_heat "$NP" run/final.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the final restart failed"
[[ $(restarted_version run/final.txt) == "$committed" ]] ||
  fail "the final run did not restart from the newest committed version $committed"
expect_same_checksum run/final.txt "$REFERENCE" "after $ROUNDS kills"
rm -rf ref run
log "PASS"

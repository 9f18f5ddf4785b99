#!/usr/bin/env bash
# N-to-M restart (docs/FORMAT.md 6): heat, whose grid is a global region, is
# killed on 4 ranks at a random step after a delta checkpoint and restarted
# from that checkpoint on 1, 2, 3 and 6 ranks (other decompositions); every
# restart ends with the checksum of an uninterrupted run. Then a checkpoint
# written by 3 ranks after such a restart is restarted on 4.
#
# usage: heat_n_to_m.sh HEAT
set -euo pipefail
HEAT=$1
source "$(dirname "$0")/common.sh"

# A cold start heats up from the edges: most checkpoints are deltas. Small
# blocks make the old pieces' blocks straddle the new pieces.
GRID=(--nx 200 --ny 150 --init cold)
STEPS=100
EVERY=10
export CKPT_BLOCK_SIZE=4096
forward_env CKPT_BLOCK_SIZE
MPIEXEC+=("${FORWARD[@]}")
seed_random

rm -rf ref run && mkdir ref run
reference_checksum 4 ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

KILL_STEP=$((2 * EVERY + 1 + RANDOM % (STEPS - 3 * EVERY)))
start_app 4 run/killed.txt "${GRID[@]}" --steps "$STEPS" \
  --checkpoint-every "$EVERY" --dir run/ckpt --sleep-ms 10 --print-every 1
wait_for_output "^step $KILL_STEP\$" || fail "heat ended before step $KILL_STEP"
kill_job
wait_job
((RC != 0)) || fail "the killed run exited with 0"
committed=$(newest_commit run/ckpt)
((committed >= 2)) || fail "no committed checkpoint although step $KILL_STEP was reached"

for np in 1 2 3 6; do
  rm -rf "run/np$np" && cp -r run/ckpt "run/np$np"
  run_app "$np" "run/restart_np$np.txt" "${GRID[@]}" --steps "$STEPS" \
    --checkpoint-every "$EVERY" --dir "run/np$np" --restart
  ((RC == 0)) || fail "the restart on $np ranks failed"
  version=$(restarted_version "run/restart_np$np.txt")
  ((version == committed)) || fail "restarted on $np ranks from version $version, not $committed"
  expect_same_checksum "run/restart_np$np.txt" "$REFERENCE" \
    "written on 4 ranks up to step $KILL_STEP, restarted on $np ranks"
done

# The 3-rank run went on checkpointing (a new base first: a chain holds one
# rank count): its newest version (the last step) restarted on 4 ranks.
rm -rf run/back && cp -r run/np3 run/back
run_app 4 run/back.txt "${GRID[@]}" --steps "$STEPS" --checkpoint-every "$EVERY" \
  --dir run/back --restart
((RC == 0)) || fail "the restart on 4 ranks of the 3-rank checkpoints failed"
expect_same_checksum run/back.txt "$REFERENCE" "written on 3 ranks, restarted on 4"

rm -rf ref run
log "PASS"

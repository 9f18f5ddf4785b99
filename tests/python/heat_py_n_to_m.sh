#!/usr/bin/env bash
# The Python heat example (mpi4py + the libckpt package) checkpoints on 4
# ranks, is killed at a random step, restarts on 3 ranks and then, from the
# 3-rank checkpoints, on 2, and ends with the checksum of an uninterrupted run.
#
# usage: heat_py_n_to_m.sh HEAT_PY
set -euo pipefail
APP=$1
source "$(dirname "$0")/../integration/common.sh"
seed_random
ARGS=(--nx 120 --ny 90 --steps 80)
EVERY=10

rm -rf ref run && mkdir ref run
reference_checksum 4 ref/out.txt "${ARGS[@]}" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

KILL_STEP=$((EVERY + 1 + RANDOM % 50))
start_app 4 run/killed.txt "${ARGS[@]}" --every "$EVERY" --dir run/ckpt --sleep-ms 20 \
  --print-every 1
wait_for_output "^step $KILL_STEP\$" || fail "heat.py ended before step $KILL_STEP"
kill_job
wait_job
((RC != 0)) || fail "the killed run exited with 0"
committed=$(newest_commit run/ckpt)
((committed >= 1)) || fail "no committed checkpoint although step $KILL_STEP was reached"

# Stopped again on 3 ranks a few steps later (--steps is only where it ends).
run_app 3 run/three.txt --nx 120 --ny 90 --steps $((KILL_STEP / EVERY * EVERY + 2 * EVERY)) \
  --every "$EVERY" --dir run/ckpt --restart
((RC == 0)) || fail "the restart on 3 ranks failed"
version=$(restarted_version run/three.txt)
((version == committed)) || fail "restarted on 3 ranks from version $version, not $committed"
run_app 2 run/two.txt "${ARGS[@]}" --every "$EVERY" --dir run/ckpt --restart
((RC == 0)) || fail "the restart on 2 ranks failed"
expect_same_checksum run/two.txt "$REFERENCE" \
  "killed on 4 ranks at step $KILL_STEP, went on on 3, restarted on 2"
rm -rf ref run
log "PASS"

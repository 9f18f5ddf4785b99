#!/usr/bin/env bash
# Runs tests/pmpi/states.cpp in one --mode: cleanly; then with checkpoints
# and every rank SIGKILLed after a checkpoint; then restarts that checkpoint
# with the communicators re-created as before, in swapped order and with an
# extra one first (each must end bit for bit as the clean run), and with a
# communicator whose members differ (the restart must fail on every rank
# with CKPT_ERR_STATE naming it, and must not hang).
#
# usage: states_restart.sh APP NP MODE [PRELOAD_LIBRARY]
# Environment (from ckpt_add_script_test): CKPT_MPIEXEC, CKPT_MPIEXEC_NUMPROC_FLAG.
set -euo pipefail
APP=$1
NP=$2
MODE=$3
PRELOAD=${4:-}
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
LIMIT=${CKPT_TEST_RUN_LIMIT:-60}
STEPS=12
EVERY=3
KILL_AT=7 # after the checkpoint of step 5, two steps before the next one

log() { printf '[states %s np%s] %s\n' "$MODE" "$NP" "$*"; }
fail() {
  printf '[states %s np%s] FAIL: %s\n' "$MODE" "$NP" "$*" >&2
  exit 1
}
ENV_ARGS=(-x CKPT_PMPI_REPORT)
export CKPT_PMPI_REPORT=1
"${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e OpenRTE || ENV_ARGS=()
RANK_PREFIX=()
[[ -n $PRELOAD ]] && RANK_PREFIX=(env "LD_PRELOAD=$PRELOAD")

run() { # run OUT ARGS...
  local out=$1
  shift
  RC=0
  timeout -k 10 "$LIMIT" "${MPIEXEC[@]}" "${ENV_ARGS[@]}" "$NP_FLAG" "$NP" "${RANK_PREFIX[@]}" \
    "$APP" --mode "$MODE" --steps "$STEPS" "$@" >"$out" 2>&1 || RC=$?
  ((RC != 124)) || { cat "$out"; fail "hang: no end within ${LIMIT}s ($*)"; }
}
checksum() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }

rm -rf states.work && mkdir states.work && cd states.work
run clean.txt --checkpoint-every 0 --dir clean.ckpt
((RC == 0)) || { cat clean.txt; fail "the clean run failed"; }
REFERENCE=$(checksum clean.txt)
[[ -n $REFERENCE ]] || { cat clean.txt; fail "no checksum in the clean run"; }
log "clean run: checksum $REFERENCE"

run killed.txt --checkpoint-every "$EVERY" --dir killed.ckpt --kill-at "$KILL_AT"
grep -q '^checksum' killed.txt && fail "the killed run finished anyway"
pending=$(sed -n 's/.*request(s) completed for the application, \([0-9]\+\) pending.*/\1/p' killed.txt |
  awk '{ s += $1 } END { print s + 0 }')
drained=$(sed -n 's/.*channels closed: \([0-9]\+\) message(s) drained now.*/\1/p' killed.txt |
  awk '{ s += $1 } END { print s + 0 }')
log "checkpoints before the kill captured $pending pending request(s), drained $drained message(s)"
((pending > 0)) || { cat killed.txt; fail "no checkpoint captured a pending request: the test proves nothing"; }

for comms in normal swapped extra; do
  rm -rf restart.ckpt && cp -r killed.ckpt restart.ckpt
  run "restart-$comms.txt" --checkpoint-every "$EVERY" --dir restart.ckpt --restart --comms "$comms"
  ((RC == 0)) || { cat "restart-$comms.txt"; fail "the restart with --comms $comms failed"; }
  GOT=$(checksum "restart-$comms.txt")
  [[ $GOT == "$REFERENCE" ]] ||
    fail "restart with --comms $comms: checksum $GOT differs from the clean run's $REFERENCE"
  log "restart with communicators $comms: checksum equals the clean run's"
done

rm -rf restart.ckpt && cp -r killed.ckpt restart.ckpt
run restart-unmatched.txt --checkpoint-every "$EVERY" --dir restart.ckpt --restart --comms unmatched
((RC != 0)) || fail "the restart with an unmatched communicator succeeded"
grep -q 'no live communicator matches it' restart-unmatched.txt ||
  { cat restart-unmatched.txt; fail "the unmatched communicator is not named"; }
grep -q 'MPI_Comm_split of MPI_COMM_WORLD' restart-unmatched.txt ||
  { cat restart-unmatched.txt; fail "the message does not say which communicator"; }
log "restart with an unmatched communicator: $(grep -m1 -o 'communicator made by.*' restart-unmatched.txt)"
log PASS
cd .. && rm -rf states.work

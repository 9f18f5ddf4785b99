#!/usr/bin/env bash
# Runs a message-passing example cleanly, then with checkpoints taken while
# its messages are in flight, kills it with SIGKILL (the whole job or one
# rank) at a random step after the first checkpoint, restarts it, and checks
# that the final checksum is bit for bit the clean run's. Also checks that
# the checkpoints really captured messages in flight (CKPT_PMPI_REPORT).
#
# usage: kill_restart.sh APP NP [PRELOAD_LIBRARY]
# Environment (from ckpt_add_script_test): CKPT_MPIEXEC, CKPT_MPIEXEC_NUMPROC_FLAG.
set -euo pipefail
APP=$1
NP=$2
PRELOAD=${3:-}
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
LIMIT=${CKPT_TEST_RUN_LIMIT:-120}
NAME=$(basename "$APP")
STEPS=40
EVERY=6

log() { printf '[%s np%s] %s\n' "$NAME" "$NP" "$*"; }
fail() {
  printf '[%s np%s] FAIL: %s\n' "$NAME" "$NP" "$*" >&2
  exit 1
}
seed=${CKPT_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
log "random seed $seed (rerun with CKPT_TEST_SEED=$seed)"

ENV_ARGS=(-x CKPT_PMPI_REPORT)
export CKPT_PMPI_REPORT=1
# The layer is preloaded into the ranks only (env runs each rank), never into
# the launcher or `timeout`: a sanitizer build's library cannot load there.
RANK_PREFIX=()
[[ -n $PRELOAD ]] && RANK_PREFIX=(env "LD_PRELOAD=$PRELOAD")
"${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e OpenRTE || ENV_ARGS=()

run() { # run OUT ARGS...: foreground run
  local out=$1
  shift
  RC=0
  timeout -k 10 "$LIMIT" "${MPIEXEC[@]}" "${ENV_ARGS[@]}" "$NP_FLAG" "$NP" "${RANK_PREFIX[@]}" "$APP" "$@" >"$out" 2>&1 || RC=$?
  ((RC != 124)) || { cat "$out"; fail "hang: no end within ${LIMIT}s"; }
}
checksum() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }

rm -rf ref run && mkdir ref run
run ref/out.txt --steps "$STEPS" --checkpoint-every 0 --dir ref/ckpt
((RC == 0)) || { cat ref/out.txt; fail "the clean run failed"; }
REFERENCE=$(checksum ref/out.txt)
[[ -n $REFERENCE ]] || fail "no checksum in the clean run"
log "clean run: checksum $REFERENCE"

KILL_STEP=$((EVERY + 2 + RANDOM % (STEPS - EVERY - 4)))
TARGET=job
((NP > 1 && RANDOM % 2)) && TARGET=$((RANDOM % NP))
log "kill at step $KILL_STEP of $STEPS (checkpoint every $EVERY), target: $TARGET"

(
  setsid timeout -k 10 "$LIMIT" "${MPIEXEC[@]}" "${ENV_ARGS[@]}" "$NP_FLAG" "$NP" "${RANK_PREFIX[@]}" "$APP" \
    --steps "$STEPS" --checkpoint-every "$EVERY" --dir run/ckpt --progress --sleep-ms 20 \
    >run/killed.txt 2>&1 &
  echo $! >run/sid
  wait $!
) 2>/dev/null &
WAITER=$!
until [[ -s run/sid ]]; do sleep 0.01; done
SID=$(<run/sid)
session_pids() { ps -e -o pid=,sid= | awk -v sid="$SID" '$2 == sid { print $1 }'; }
kill_all() { for p in $(session_pids); do kill -KILL "$p" 2>/dev/null || true; done; }
trap kill_all EXIT
deadline=$((SECONDS + LIMIT))
until grep -q -x "step $KILL_STEP" run/killed.txt; do
  kill -0 "$WAITER" 2>/dev/null || { cat run/killed.txt; fail "the run ended before step $KILL_STEP"; }
  ((SECONDS < deadline)) || fail "step $KILL_STEP not reached"
  sleep 0.01
done
if [[ $TARGET == job ]]; then
  kill_all
else
  for p in $(session_pids); do
    # Not `grep -q`: with pipefail, tr's SIGPIPE would turn a match into a miss.
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -x "OMPI_COMM_WORLD_RANK=$TARGET" >/dev/null; then
      kill -KILL "$p"
    fi
  done
fi
wait "$WAITER" || true
kill_all
grep -q '^checksum' run/killed.txt && fail "the killed run finished anyway"
drained=$(sed -n 's/.*channels closed: \([0-9]\+\) message(s) drained now.*/\1/p' run/killed.txt |
  awk '{ s += $1 } END { print s + 0 }')
log "messages in flight captured by the checkpoints before the kill: $drained"
((drained > 0)) || fail "no checkpoint captured a message in flight: the test proves nothing"

run run/restarted.txt --steps "$STEPS" --checkpoint-every "$EVERY" --dir run/ckpt --restart
((RC == 0)) || { cat run/restarted.txt; fail "the restarted run failed"; }
grep '^restarted from' run/restarted.txt | sed 's/^/    /'
GOT=$(checksum run/restarted.txt)
[[ $GOT == "$REFERENCE" ]] || fail "restarted checksum $GOT differs from the clean run's $REFERENCE"
log "restarted checksum $GOT equals the clean run's: PASS"
rm -rf ref run

#!/usr/bin/env bash
# Randomized fault injection for protocol = nonblocking (docs/PROTOCOL.md 8).
# Each trial runs an example with a checkpoint site every step and checkpoint
# requests from random ranks, SIGKILLs it at a random point (a random step,
# or inside a random phase of a random version: the local write, the channel
# record, rank 0's commit, just after the commit), restarts it from the
# newest committed checkpoint, possibly kills the restarted run again, and
# finally lets it finish: the checksum must be bit for bit the clean run's.
# Prints "PASS n/N" and fails unless every trial passed.
#
# usage: nonblocking_kill.sh APP NP TRIALS [PRELOAD_LIBRARY]
# Environment: CKPT_MPIEXEC, CKPT_MPIEXEC_NUMPROC_FLAG (from ckpt_add_script_test),
#              CKPT_TEST_SEED (reproduce a run).
set -euo pipefail
APP=$1
NP=$2
TRIALS=$3
PRELOAD=${4:-}
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
LIMIT=${CKPT_TEST_RUN_LIMIT:-120}
NAME=$(basename "$APP")
STEPS=48
PHASES=(nb_local_write nb_record nb_commit nb_after_commit)

log() { printf '[%s np%s] %s\n' "$NAME" "$NP" "$*"; }
fail() {
  printf '[%s np%s] FAIL: %s\n' "$NAME" "$NP" "$*" >&2
  exit 1
}
seed=${CKPT_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
log "random seed $seed (rerun with CKPT_TEST_SEED=$seed)"

export CKPT_PROTOCOL=nonblocking CKPT_PMPI_REPORT=1 CKPT_FSYNC=false CKPT_DEBUG_NB_LEAD=
ENV_ARGS=(-x CKPT_PROTOCOL -x CKPT_PMPI_REPORT -x CKPT_FSYNC -x CKPT_DEBUG_KILL -x CKPT_DEBUG_NB_LEAD)
RANK_PREFIX=()
[[ -n $PRELOAD ]] && RANK_PREFIX=(env "LD_PRELOAD=$PRELOAD")
"${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e OpenRTE || ENV_ARGS=()

checksum() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }
committed() { compgen -G "$1/*.commit" >/dev/null; }
newest_version() {
  local v=0 f n
  for f in "$1"/*.commit; do
    [[ -e $f ]] || continue
    n=${f##*.v}
    n=$((10#${n%%.*}))
    ((n > v)) && v=$n
  done
  echo "$v"
}

# One run in its own session, so that a kill takes every process of it.
# run_job OUT KILL_STEP ARGS...: KILL_STEP 0 = no step kill.
run_job() {
  local out=$1 kill_step=$2
  shift 2
  rm -f run/sid
  (
    setsid timeout -k 10 "$LIMIT" "${MPIEXEC[@]}" "${ENV_ARGS[@]}" "$NP_FLAG" "$NP" \
      "${RANK_PREFIX[@]}" "$APP" "$@" >"$out" 2>&1 &
    echo $! >run/sid
    wait $!
  ) 2>/dev/null &
  local waiter=$!
  until [[ -s run/sid ]]; do sleep 0.01; done
  local sid
  sid=$(<run/sid)
  if ((kill_step > 0)); then
    local deadline=$((SECONDS + LIMIT))
    until grep -q -x "step $kill_step" "$out" || ! kill -0 "$waiter" 2>/dev/null; do
      ((SECONDS < deadline)) || break
      sleep 0.01
    done
    # only kill when a checkpoint is committed: otherwise let it run on
    if committed run/ckpt; then
      for p in $(ps -e -o pid=,sid= | awk -v sid="$sid" '$2 == sid { print $1 }'); do
        kill -KILL "$p" 2>/dev/null || true
      done
    fi
  fi
  RC=0
  wait "$waiter" || RC=$?
  for p in $(ps -e -o pid=,sid= | awk -v sid="$sid" '$2 == sid { print $1 }'); do
    kill -KILL "$p" 2>/dev/null || true
  done
  ((RC != 124)) || { cat "$out"; fail "hang: no end within ${LIMIT}s"; }
}

rm -rf ref run && mkdir -p ref run
CKPT_DEBUG_KILL= run_job ref/out.txt 0 --steps "$STEPS" --checkpoint-every 0 --dir ref/ckpt
REFERENCE=$(checksum ref/out.txt)
[[ -n $REFERENCE ]] || { cat ref/out.txt; fail "no checksum in the clean run"; }
log "clean run: checksum $REFERENCE"

passed=0
late=0
early=0
for ((trial = 1; trial <= TRIALS; ++trial)); do
  rm -rf run && mkdir run
  every=$((4 + RANDOM % 5))
  # Half the trials take the local checkpoints at the next site after the
  # request arrives, not at a common site: messages then cross the cut both
  # ways (late and early).
  export CKPT_DEBUG_NB_LEAD=
  ((RANDOM % 2)) && CKPT_DEBUG_NB_LEAD=0
  restart=()
  kills=$((1 + RANDOM % 3))
  desc=""
  for ((k = 0; k <= kills; ++k)); do
    export CKPT_DEBUG_KILL=
    kill_step=0
    if ((k < kills)); then
      if ((RANDOM % 2)); then
        kill_step=$((every + 4 + RANDOM % (STEPS - every - 8)))
        desc+=" step$kill_step"
      else
        v=$(($(newest_version run/ckpt) + 1 + RANDOM % 2))
        phase=${PHASES[RANDOM % ${#PHASES[@]}]}
        rank=$((RANDOM % NP))
        [[ $phase == nb_commit ]] && rank=0 # rank 0 commits
        CKPT_DEBUG_KILL="$phase:$v:$rank"
        desc+=" $CKPT_DEBUG_KILL"
      fi
    fi
    out=run/out$k.txt
    run_job "$out" "$kill_step" --steps "$STEPS" --checkpoint-every 0 --request-every "$every" \
      --request-rank -1 --dir run/ckpt --progress --sleep-ms 5 "${restart[@]}"
    late=$((late + $(sed -n 's/.*: \([0-9]\+\) late message(s) recorded.*/\1/p' "$out" |
      awk '{ s += $1 } END { print s + 0 }')))
    early=$((early + $(sed -n 's/.*restart: \([0-9]\+\) early message(s) to skip.*/\1/p' "$out" |
      awk '{ s += $1 } END { print s + 0 }')))
    if grep -q '^checksum' "$out"; then
      got=$(checksum "$out")
      [[ $got == "$REFERENCE" ]] || { cat "$out"; fail "trial $trial ($desc): checksum $got differs from $REFERENCE"; }
      break
    fi
    ((k < kills)) || { cat "$out"; fail "trial $trial ($desc): the last run did not finish"; }
    restart=()
    committed run/ckpt && restart=(--restart)
  done
  grep -q '^checksum' "$out" || fail "trial $trial ($desc): no run finished"
  passed=$((passed + 1))
  log "trial $trial (lead ${CKPT_DEBUG_NB_LEAD:-auto}):$desc -> $(grep -h '^restarted from' run/out*.txt | tr '\n' ';') ok"
done
log "late messages recorded over all runs: $late; early messages skipped after restarts: $early"
echo "PASS $passed/$TRIALS"
((passed == TRIALS))
rm -rf ref run

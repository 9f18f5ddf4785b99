#!/usr/bin/env bash
# libckpt quick-start demo: runs the heat-equation example on 4 MPI ranks,
# kills it with SIGKILL after a checkpoint was committed, restarts it from the
# checkpoint and shows that the result is bit-for-bit the one of a run that
# was never interrupted.
#
# usage: scripts/demo.sh [BUILD_DIR]   (default ./build)
# Knobs (environment): MPIEXEC (default mpiexec), NP (default 4).
set -euo pipefail

BUILD_DIR=${1:-./build}
HEAT=$BUILD_DIR/apps/heat/heat
MPIEXEC=${MPIEXEC:-mpiexec}
NP=${NP:-4}
GRID=(--nx 512 --ny 512 --steps 300)
EVERY=50

say() { printf '\n==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }

if [[ ! -x $HEAT ]]; then
  echo "demo: $HEAT not found; build first, e.g. cmake -S . -B build && cmake --build build" >&2
  exit 2
fi
command -v "$MPIEXEC" >/dev/null || {
  echo "demo: $MPIEXEC not found (set MPIEXEC)" >&2
  exit 2
}
LAUNCH=("$MPIEXEC" -n "$NP")
if "$MPIEXEC" --version 2>&1 | grep -q -e 'Open MPI' -e 'OpenRTE'; then
  LAUNCH+=(--oversubscribe) # 4 ranks also on a 2-core laptop
  if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-demo.XXXXXX")
KILLED_SID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local pid
  if [[ -n $KILLED_SID ]]; then # never leave a rank of the killed run behind
    for pid in $(ps -e -o pid=,sid= | awk -v sid="$KILLED_SID" '$2 == sid { print $1 }'); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

checksum_of() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }

say "1/3  Reference: heat on $NP ranks (${GRID[*]}), no checkpoints, never interrupted"
"${LAUNCH[@]}" "$HEAT" "${GRID[@]}" --checkpoint-every 0 --dir "$WORK/reference" \
  >"$WORK/reference.txt" 2>&1 || {
  indent <"$WORK/reference.txt"
  echo "demo: the reference run failed" >&2
  exit 1
}
indent <"$WORK/reference.txt"
REFERENCE=$(checksum_of "$WORK/reference.txt")

CKPT_DIR=$WORK/ckpt
say "2/3  The same run with a checkpoint every $EVERY steps into $CKPT_DIR;"
echo "     it will be killed with SIGKILL (launcher and all ranks) once a checkpoint is committed"
# A session of its own, so that every process of the job can be killed at once.
(
  setsid "${LAUNCH[@]}" "$HEAT" "${GRID[@]}" --checkpoint-every "$EVERY" --dir "$CKPT_DIR" \
    --sleep-ms 10 >"$WORK/killed.txt" 2>&1 &
  echo "$!" >"$WORK/killed.sid"
  wait "$!"
) 2>/dev/null &
WAITER=$!
until [[ -s $WORK/killed.sid ]]; do sleep 0.01; done
KILLED_SID=$(<"$WORK/killed.sid")

# Wait for the commit record of the second checkpoint (ckpt.v000002.commit):
# then the run is partway, with a committed checkpoint to come back to.
until compgen -G "$CKPT_DIR/ckpt.v000002.commit" >/dev/null; do
  if ! kill -0 "$WAITER" 2>/dev/null; then
    indent <"$WORK/killed.txt"
    echo "demo: the run ended before its second checkpoint" >&2
    exit 1
  fi
  sleep 0.01
done
for pid in $(ps -e -o pid=,sid= | awk -v sid="$KILLED_SID" '$2 == sid { print $1 }'); do
  kill -KILL "$pid" 2>/dev/null || true
done
wait "$WAITER" || true
indent <"$WORK/killed.txt"
echo "     *** killed with SIGKILL ***"
echo "     checkpoint directory after the crash:"
# shellcheck disable=SC2012 # a listing for the reader, not parsed
ls -l "$CKPT_DIR" | tail -n +2 | indent

say "3/3  Restart from the newest committed checkpoint (heat --restart)"
"${LAUNCH[@]}" "$HEAT" "${GRID[@]}" --checkpoint-every "$EVERY" --dir "$CKPT_DIR" --restart \
  >"$WORK/restarted.txt" 2>&1 || {
  indent <"$WORK/restarted.txt"
  echo "demo: the restarted run failed" >&2
  exit 1
}
indent <"$WORK/restarted.txt"
RESTARTED=$(checksum_of "$WORK/restarted.txt")

say "Result"
echo "    uninterrupted run:    checksum $REFERENCE"
echo "    killed and restarted: checksum $RESTARTED"
if [[ -n $REFERENCE && $REFERENCE == "$RESTARTED" ]]; then
  echo "    IDENTICAL: the restarted run reproduced the final field bit for bit."
  exit 0
fi
echo "    DIFFERENT: the restarted run did not reproduce the final field!"
exit 1

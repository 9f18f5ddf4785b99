#!/usr/bin/env bash
# libckpt quick-start demo, in two parts. Each runs an example application on
# 4 MPI ranks once without interruption, then again with checkpoints, kills it
# with SIGKILL after a few checkpoints were committed, restarts it from the
# newest checkpoint and shows that the result is bit-for-bit the one of the
# run that was never interrupted.
#
#   1. heat: a 2-D heat equation. Every cell changes every step, so every
#      checkpoint writes the whole state.
#   2. wildfire: fires spreading over a landscape. Only the fronts change, so
#      after each full (base) checkpoint libckpt writes small deltas: the log
#      shows a few percent of the blocks dirty. The demo ends with `ckpt list`,
#      `ckpt stats` and a picture of the checkpoint history (`ckpt stats --svg`).
#
# usage: scripts/demo.sh [BUILD_DIR]   (default ./build)
# Knobs (environment): MPIEXEC (default mpiexec), NP (default 4),
#   SVG (the picture, default BUILD_DIR/wildfire-history.svg).
set -euo pipefail

BUILD_DIR=${1:-./build}
HEAT=$BUILD_DIR/apps/heat/heat
WILDFIRE=$BUILD_DIR/apps/wildfire/wildfire
CKPT=$BUILD_DIR/tools/ckpt
MPIEXEC=${MPIEXEC:-mpiexec}
NP=${NP:-4}
SVG=${SVG:-$BUILD_DIR/wildfire-history.svg}
HEAT_ARGS=(--nx 512 --ny 512 --steps 300)
HEAT_EVERY=50
FIRE_ARGS=(--steps 300) # 1024x1024 cells: 32 MiB of state, 8 MiB per rank on 4
FIRE_EVERY=10

say() { printf '\n==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }

for exe in "$HEAT" "$WILDFIRE" "$CKPT"; do
  if [[ ! -x $exe ]]; then
    echo "demo: $exe not found; build first, e.g. cmake -S . -B build && cmake --build build" >&2
    exit 2
  fi
done
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
session_pids() { ps -e -o pid=,sid= | awk -v sid="$1" '$2 == sid { print $1 }'; }
kill_session() {
  local pid
  for pid in $(session_pids "$1"); do kill -KILL "$pid" 2>/dev/null || true; done
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  # never leave a rank of a killed run behind
  if [[ -n $KILLED_SID ]]; then kill_session "$KILLED_SID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

checksum_of() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }

# run NAME OUT ARGS...: runs to the end and shows the output; fails the demo
# if the run fails.
run() {
  local name=$1 out=$2
  shift 2
  "${LAUNCH[@]}" "$@" >"$out" 2>&1 || {
    indent <"$out"
    echo "demo: the $name run failed" >&2
    exit 1
  }
  indent <"$out"
}

# run_and_kill VERSION OUT DIR ARGS...: starts the run in a session of its own
# and kills the launcher and every rank with SIGKILL as soon as checkpoint
# VERSION of DIR is committed: the run is then partway, with a committed
# checkpoint to come back to.
run_and_kill() {
  local version=$1 out=$2 dir=$3 waiter
  shift 3
  rm -f "$out.sid"
  (
    setsid "${LAUNCH[@]}" "$@" >"$out" 2>&1 &
    echo "$!" >"$out.sid"
    wait "$!"
  ) 2>/dev/null &
  waiter=$!
  until [[ -s $out.sid ]]; do sleep 0.01; done
  KILLED_SID=$(<"$out.sid")
  until compgen -G "$(printf '%s/ckpt.v%06d.commit' "$dir" "$version")" >/dev/null; do
    if ! kill -0 "$waiter" 2>/dev/null; then
      indent <"$out"
      echo "demo: the run ended before its checkpoint $version" >&2
      exit 1
    fi
    sleep 0.01
  done
  kill_session "$KILLED_SID"
  wait "$waiter" || true
  indent <"$out"
  echo "     *** killed with SIGKILL ***"
}

# compare NAME REFERENCE_OUT RESTARTED_OUT: prints both checksums; false if
# they differ.
compare() {
  local reference restarted
  reference=$(checksum_of "$2")
  restarted=$(checksum_of "$3")
  echo "    $1, uninterrupted run:    checksum $reference"
  echo "    $1, killed and restarted: checksum $restarted"
  if [[ -n $reference && $reference == "$restarted" ]]; then
    echo "    IDENTICAL: the restarted run reproduced the final state bit for bit."
    return 0
  fi
  echo "    DIFFERENT: the restarted run did not reproduce the final state!"
  return 1
}

# ---- part 1: heat, every cell changes every step ---------------------------

say "1/6  heat (2-D heat equation) on $NP ranks (${HEAT_ARGS[*]}): reference run, no checkpoints, never interrupted"
run reference "$WORK/heat-reference.txt" "$HEAT" "${HEAT_ARGS[@]}" --checkpoint-every 0 \
  --dir "$WORK/heat-reference"

HEAT_DIR=$WORK/heat.ckpt
say "2/6  The same run with a checkpoint every $HEAT_EVERY steps into $HEAT_DIR;"
echo "     it will be killed with SIGKILL (launcher and all ranks) once checkpoint 2 is committed."
echo "     Every cell of the heat equation changes every step: every checkpoint writes all blocks."
run_and_kill 2 "$WORK/heat-killed.txt" "$HEAT_DIR" "$HEAT" "${HEAT_ARGS[@]}" \
  --checkpoint-every "$HEAT_EVERY" --dir "$HEAT_DIR" --sleep-ms 10
echo "     checkpoint directory after the crash:"
# shellcheck disable=SC2012 # a listing for the reader, not parsed
ls -l "$HEAT_DIR" | tail -n +2 | indent

say "3/6  Restart from the newest committed checkpoint (heat --restart)"
run restarted "$WORK/heat-restarted.txt" "$HEAT" "${HEAT_ARGS[@]}" \
  --checkpoint-every "$HEAT_EVERY" --dir "$HEAT_DIR" --restart

# ---- part 2: wildfire, only the fronts change ------------------------------

FIRE_DIR=$WORK/wildfire.ckpt
say "4/6  wildfire (fires spreading; only the fronts change) on $NP ranks (${FIRE_ARGS[*]}): reference run"
run reference "$WORK/fire-reference.txt" "$WILDFIRE" "${FIRE_ARGS[@]}" --checkpoint-every 0 \
  --dir "$WORK/fire-reference"

say "5/6  The same run with a checkpoint every $FIRE_EVERY steps into $FIRE_DIR, killed with"
echo "     SIGKILL once checkpoint 12 is committed. libckpt's defaults: a base (every block)"
echo "     every 8 checkpoints, deltas (only the blocks whose XXH3 hash changed) in between."
run_and_kill 12 "$WORK/fire-killed.txt" "$FIRE_DIR" "$WILDFIRE" "${FIRE_ARGS[@]}" \
  --checkpoint-every "$FIRE_EVERY" --dir "$FIRE_DIR" --sleep-ms 10

say "6/6  Restart from the newest committed checkpoint (wildfire --restart)"
run restarted "$WORK/fire-restarted.txt" "$WILDFIRE" "${FIRE_ARGS[@]}" \
  --checkpoint-every "$FIRE_EVERY" --dir "$FIRE_DIR" --restart

say "The checkpoints of wildfire: ckpt list $FIRE_DIR"
"$CKPT" list "$FIRE_DIR" | indent
say "Their history: ckpt stats $FIRE_DIR --svg $SVG"
"$CKPT" stats "$FIRE_DIR" --svg "$SVG" | indent

say "Result"
status=0
compare heat "$WORK/heat-reference.txt" "$WORK/heat-restarted.txt" || status=1
compare wildfire "$WORK/fire-reference.txt" "$WORK/fire-restarted.txt" || status=1
echo "    The picture of wildfire's checkpoints (bytes written, dirty ratio, time): $SVG"
exit "$status"

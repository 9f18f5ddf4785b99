#!/usr/bin/env bash
# An MPI+threads program under MPI_THREAD_MULTIPLE (hybrid.cpp) must behave
# with the PMPI layer exactly as without it: same checksum, nothing on
# stderr. Runs it without the layer, with the layer preloaded, and linked in
# with checkpoints (and a checkpoint refused while a thread is in MPI_Recv).
# usage: hybrid.sh LINKED_PROGRAM UNLINKED_PROGRAM LIBRARY NP
set -euo pipefail
LINKED=$1
UNLINKED=$2
LIBRARY=$3
NP=$4
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
STEPS=12

fail() {
  printf '[hybrid np%s] FAIL: %s\n' "$NP" "$*" >&2
  exit 1
}
checksum() { sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1"; }
run() { # run NAME PROGRAM [ARGS...]: stdout in NAME.out, stderr in NAME.err
  local name=$1
  shift
  rm -rf "$name.ckpt"
  timeout -k 10 120 "${MPIEXEC[@]}" "$NP_FLAG" "$NP" "$@" --steps "$STEPS" --dir "$name.ckpt" \
    >"$name.out" 2>"$name.err" || { cat "$name.out" "$name.err"; fail "$name: exit code $?"; }
  [[ ! -s $name.err ]] || { cat "$name.err"; fail "$name: output on stderr"; }
  [[ -n $(checksum "$name.out") ]] || { cat "$name.out"; fail "$name: no checksum"; }
}

run plain "$UNLINKED" --checkpoint-every 0
REFERENCE=$(checksum plain.out)
# The layer is preloaded into the ranks only (env runs each rank).
run preloaded env LD_PRELOAD="$LIBRARY" "$UNLINKED" --checkpoint-every 0
run linked "$LINKED" --checkpoint-every 4 --refusal-check
grep -q "refused as expected" linked.out || fail "no refusal reported"
for name in preloaded linked; do
  [[ $(checksum $name.out) == "$REFERENCE" ]] ||
    fail "$name: checksum $(checksum $name.out), without the layer $REFERENCE"
done
rm -rf ./*.ckpt
echo "hybrid np$NP: same checksum $REFERENCE without the layer, preloaded and linked"

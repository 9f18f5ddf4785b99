#!/usr/bin/env bash
# Many messages in flight across a checkpoint and a restart: every rank
# posts N small Isends that nobody receives, checkpoints (the layer drains
# them all into the checkpoint) and stops; the restarted run receives all N
# from the checkpoint, with MPI_ANY_TAG and tag by tag, each in send order and
# bit-identical (bench/drain.cpp checks them), and waits on the restored
# request handles.
# usage: drain_restart.sh DRAIN_PROGRAM NP MESSAGES
set -euo pipefail
PROGRAM=$1
NP=$2
MESSAGES=$3
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
rm -rf drain.ckpt
for phase in checkpoint restart; do
  timeout -k 10 120 "${MPIEXEC[@]}" "$NP_FLAG" "$NP" "$PROGRAM" --phase "$phase" \
    --messages "$MESSAGES" --dir drain.ckpt
done
rm -rf drain.ckpt

#!/usr/bin/env bash
# Runs the transparency program without the PMPI layer and with it preloaded;
# both runs must pass, and the preloaded one must show intercepted calls.
# usage: transparency.sh PROGRAM LIBRARY NP
set -euo pipefail
PROGRAM=$1
LIBRARY=$2
NP=$3
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
timeout -k 10 120 "${MPIEXEC[@]}" "$NP_FLAG" "$NP" "$PROGRAM"
FORWARD=(-x CKPT_EXPECT_LAYER) # Open MPI; other launchers pass the environment
"${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e OpenRTE || FORWARD=()
# The layer is preloaded into the ranks only (env runs each rank), never into
# the launcher: a sanitizer build's library cannot load into mpiexec.
CKPT_EXPECT_LAYER=1 timeout -k 10 120 "${MPIEXEC[@]}" "${FORWARD[@]}" "$NP_FLAG" "$NP" \
  env LD_PRELOAD="$LIBRARY" "$PROGRAM"

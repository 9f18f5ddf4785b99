#!/usr/bin/env bash
# A Fortran program (mpif.h, `use mpi` or `use mpi_f08`) run with
# libckpt_pmpi.so preloaded must pass and every rank must report intercepted
# sends, receives and collectives.
# usage: fortran_intercept.sh PROGRAM LIBRARY NP
set -euo pipefail
PROGRAM=$1
LIBRARY=$2
NP=$3
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
FORWARD=(-x CKPT_PMPI_REPORT)
"${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e OpenRTE || FORWARD=()
# Preloaded into the ranks only (env runs each rank), never into the launcher.
out=$(CKPT_PMPI_REPORT=1 timeout -k 10 120 "${MPIEXEC[@]}" "${FORWARD[@]}" "$NP_FLAG" "$NP" \
  env LD_PRELOAD="$LIBRARY" "$PROGRAM" 2>&1)
printf '%s\n' "$out"
grep -q 'fortran hello.*: ok' <<<"$out" || { echo "FAIL: the program did not pass"; exit 1; }
caught=$(grep -c -E 'intercepted [1-9][0-9]* send\(s\), [1-9][0-9]* receive\(s\), [1-9][0-9]* collective' <<<"$out" || true)
((caught == NP)) || { echo "FAIL: $caught of $NP ranks report intercepted calls"; exit 1; }
echo "PASS: all $NP ranks intercepted"

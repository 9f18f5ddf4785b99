#!/usr/bin/env bash
# A Fortran program whose MPI_Waitall hook throws (CKPT_PMPI_INJECT_FAULT)
# must end through MPI's error handler (the default, MPI_ERRORS_ARE_FATAL,
# aborts the job) with libckpt_pmpi's message, never through std::terminate.
# usage: hook_failure_fortran.sh PROGRAM LIBRARY NP
set -euo pipefail
PROGRAM=$1
LIBRARY=$2
NP=$3
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
rc=0
out=$(timeout -k 10 60 "${MPIEXEC[@]}" "$NP_FLAG" "$NP" \
  env LD_PRELOAD="$LIBRARY" CKPT_PMPI_INJECT_FAULT=MPI_Waitall "$PROGRAM" 2>&1) || rc=$?
printf '%s\n' "$out"
((rc != 0 && rc != 124)) || { echo "FAIL: exit code $rc, expected the job to be aborted"; exit 1; }
grep -q 'error: libckpt_pmpi: MPI_Waitall: fault injected' <<<"$out" ||
  { echo "FAIL: no message from libckpt_pmpi"; exit 1; }
if grep -q -e 'terminate called' -e 'std::terminate' <<<"$out"; then
  echo "FAIL: an exception escaped the wrapper"
  exit 1
fi
echo "PASS: MPI_Waitall failed through the error handler (exit code $rc)"

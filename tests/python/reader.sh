#!/usr/bin/env bash
# The Python reader (no MPI) on files the C++ heat wrote on 4 ranks: every
# version, base and delta, the global grid (the newest one is the array heat
# ended with), a per-rank region of one rank, one rank's piece, and errors as
# CkptError with a status.
#
# usage: reader.sh HEAT
set -euo pipefail
HEAT=$1
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
export CKPT_BLOCK_SIZE=4096
ENV_FLAG=()
if "${MPIEXEC[0]}" --version 2>&1 | grep -q 'Open MPI'; then ENV_FLAG=(-x CKPT_BLOCK_SIZE); fi
rm -rf heat && mkdir heat
"${MPIEXEC[@]}" "${ENV_FLAG[@]}" "${CKPT_MPIEXEC_NUMPROC_FLAG:--n}" 4 "$HEAT" --nx 200 --ny 150 \
  --init cold --steps 60 --checkpoint-every 10 --dir heat/ckpt >heat/out.txt 2>&1
SUM=$(sed -n 's/^checksum //p' heat/out.txt)
"$CKPT_PYTHON" - heat/ckpt "$SUM" <<'PY'
import sys
import numpy as np
import libckpt

directory, heat_sum = sys.argv[1], sys.argv[2]
ckpt = libckpt.open(directory)
kinds = [v.kind for v in ckpt.versions]
assert "base" in kinds and "delta" in kinds, kinds
for v in ckpt.versions:
    grid = v.region("temperature")
    assert grid.dtype == np.float64 and grid.shape == (150, 200), (v, grid.dtype, grid.shape)
    assert v.region("step", rank=3).tolist() == [v.step], v
    piece = v.region("temperature", rank=1)
    assert piece.shape == (75, 100) and (piece == grid[:75, 100:]).all(), v
newest = ckpt.versions[-1]
assert newest.kind == "delta" and newest.step == 60, newest
try:
    import xxhash
    got = "%016x" % xxhash.xxh3_64_intdigest(ckpt.region("temperature").tobytes())
    assert got == heat_sum, (got, heat_sum)
    print(f"the newest version ({newest}) is the grid heat ended with, checksum {got}")
except ImportError:
    print("python3-xxhash not installed: the checksum comparison is skipped")
try:
    ckpt.region("nope")
    raise AssertionError("no error for a missing region")
except libckpt.CkptError as e:
    assert e.status == -2 and "no region named 'nope'" in str(e), (e.status, str(e))
try:
    ckpt.region("step")
    raise AssertionError("no error for a per-rank region without a rank")
except libckpt.CkptError as e:
    assert "choose one with --rank" in str(e), str(e)
print(f"read {len(ckpt.versions)} versions ({', '.join(kinds)}) of the C++ heat: PASS")
PY
rm -rf heat

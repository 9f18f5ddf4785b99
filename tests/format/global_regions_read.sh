#!/usr/bin/env bash
# A global region is readable by name with standard tools (docs/FORMAT.md
# 2.5): h5dump -d /regions/temperature and h5py give the global array, for a
# base and for a delta (whose view maps blocks onto the chain's older file),
# from any working directory, and the same array whatever number of ranks
# wrote it. h5py is used when an interpreter has it (Debian: python3-h5py).
set -euo pipefail
HEAT=$CKPT_BUILD_DIR/apps/heat/heat
read -r -a MPIEXEC <<<"$CKPT_MPIEXEC"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export CKPT_BLOCK_SIZE=4096
ENV_FLAG=()
if "${MPIEXEC[0]}" --version 2>&1 | grep -q 'Open MPI'; then ENV_FLAG=(-x CKPT_BLOCK_SIZE); fi
ARGS=(--nx 200 --ny 150 --init cold --steps 60 --checkpoint-every 10)
rm -rf g1 g4 && mkdir g1 g4
for np in 1 4; do
  "${MPIEXEC[@]}" "${ENV_FLAG[@]}" "$CKPT_MPIEXEC_NUMPROC_FLAG" "$np" "$HEAT" "${ARGS[@]}" \
    --dir "g$np/ckpt" >"g$np/heat.out" 2>&1 || { cat "g$np/heat.out"; fail "heat on $np ranks"; }
done
SUM=$(sed -n 's/^checksum //p' g4/heat.out)
[[ $SUM == "$(sed -n 's/^checksum //p' g1/heat.out)" ]] || fail "the 1- and 4-rank runs differ"
# Version 6 (step 60) is a delta of version 5 on 4 ranks: its view refers to
# the base file for the blocks that did not change.
h5dump -a /kind g4/ckpt/ckpt.v000006.h5 | grep -q '"delta"' || fail "version 6 is not a delta"
h5dump -p -H -d /regions/temperature g4/ckpt/ckpt.v000006.h5 | grep -q 'FILE "ckpt.v000005.h5"' ||
  fail "the view of the delta does not refer to its base"
# The same global array from both, read from another directory.
here=$PWD
for v in 5 6; do
  for np in 1 4; do
    (cd / && h5dump -d /regions/temperature "$here/g$np/ckpt/ckpt.v00000$v.h5") |
      sed 1d >"g$np/v$v.txt"
  done
  grep -q 'DATASPACE  SIMPLE { ( 150, 200 )' g4/v$v.txt || fail "version $v: not the global shape"
  grep -q 'H5T_IEEE_F64LE' g4/v$v.txt || fail "version $v: not doubles"
  cmp -s g1/v$v.txt g4/v$v.txt || fail "version $v: the 1- and 4-rank files show different arrays"
done
echo "h5dump reads /regions/temperature of a base and a delta as the global 150 x 200 array"

for py in ${CKPT_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import h5py, numpy, xxhash' 2>/dev/null; then
    # heat's checksum is XXH3-64 of the global array (doubles, row-major).
    got=$("$py" -c '
import sys, h5py, numpy, xxhash
a = h5py.File(sys.argv[1], "r")["regions/temperature"][...]
assert a.dtype == numpy.float64 and a.shape == (150, 200), (a.dtype, a.shape)
print("%016x" % xxhash.xxh3_64_intdigest(numpy.ascontiguousarray(a).tobytes()))
' g4/ckpt/ckpt.v000006.h5)
    [[ $got == "$SUM" ]] || fail "h5py reads a global array with checksum $got, heat printed $SUM"
    echo "h5py ($py) reads the delta version as the array heat ended with (checksum $SUM)"
    rm -rf g1 g4
    exit 0
  fi
done
echo "h5py with xxhash not found (Debian: python3-h5py python3-xxhash): h5py part skipped"
rm -rf g1 g4

#!/usr/bin/env bash
# The checkpoint files are ordinary HDF5: h5ls and h5dump read them, and a
# user finds each rank's region through /index (docs/FORMAT.md).
set -euo pipefail
HEAT=$CKPT_BUILD_DIR/apps/heat/heat
read -r -a MPIEXEC <<<"$CKPT_MPIEXEC"
rm -rf h5.ckpt
"${MPIEXEC[@]}" "$CKPT_MPIEXEC_NUMPROC_FLAG" 2 "$HEAT" --nx 64 --ny 48 --steps 20 \
  --checkpoint-every 10 --dir h5.ckpt >heat.out 2>&1
for v in 1 2; do
  f=h5.ckpt/ckpt.v00000$v.h5
  h5ls -r "$f" >ls.out
  for d in /data /hashes /index /stored_blocks; do
    grep -q "^$d " ls.out || { echo "h5ls $f: no $d"; cat ls.out; exit 1; }
  done
  h5dump -H "$f" >header.out
  for a in format format_version version step kind base_version parent_version nranks block_size topology; do
    grep -q "ATTRIBUTE \"$a\"" header.out || { echo "h5dump -H $f: no attribute $a"; exit 1; }
  done
done
# Both ranks' rows of region 0 ("temperature") are in the index of the base.
h5dump -d /index h5.ckpt/ckpt.v000001.h5 >index.out
[ "$(grep -c '"temperature"' index.out)" -eq 2 ] || { echo "index lacks two temperature rows"; cat index.out; exit 1; }
grep -q '"libckpt"' <(h5dump -a /format h5.ckpt/ckpt.v000001.h5)
echo "h5ls/h5dump read every dataset and attribute of both versions"

#!/usr/bin/env bash
# ckpt extract: one region of one version (through its delta chain, verified)
# to .npy or HDF5; a global region as its global array, equal to the file's
# own view /regions/<name>; a per-rank region of one rank; errors name the
# region; only the region's bytes are read (read_bytes of --json, from
# /proc/self/io).
source "$(dirname "$0")/tool_common.sh"
H5DUMP=${CKPT_H5DUMP:?h5dump is needed}
HEAT=${CKPT_HEAT:?the heat example is needed}

json_field() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUT" "$1"; }
# npy_body FILE: the array bytes of a .npy file (after its header).
npy_body() {
  local len
  len=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')
  tail -c +$((10 + len + 1)) "$1"
}

rm -rf x && mkdir x && cd x
# Per-rank regions: delta chains of make_checkpoints on 2 ranks.
mpi 2 "$GEN" write gen 5 3 >/dev/null
expect 0 extract gen 5 --region grid --rank 1 -o grid.npy --json
[[ $(json_field global) == False && $(json_field rank) == 1 && $(json_field type) == double ]] ||
  fail "metadata of grid: $(cat "$OUT")"
expect 0 extract gen 5 --region grid --rank 1 -o grid.h5
"$H5DUMP" -b LE -d /grid -o grid.bin grid.h5 >/dev/null
cmp -s <(npy_body grid.npy) grid.bin || fail "the .npy and HDF5 outputs of grid differ"
pass "a per-rank region of a delta version to .npy and HDF5, the same bytes"
expect_error 2 "per-rank and 2 ranks have it: choose one with --rank" \
  extract gen --region grid -o g2.npy
expect_error 2 "no region named 'nope'" extract gen --region nope -o g3.npy
expect_error 2 "exists" extract gen --region grid --rank 0 -o grid.npy
pass "errors name the region, the ranks and the output"

# A global region: heat's grid on 4 ranks, cold start (deltas), 4 KiB blocks.
export CKPT_BLOCK_SIZE=4096
ENV_FLAG=()
if "${MPIEXEC[0]}" --version 2>&1 | grep -q 'Open MPI'; then ENV_FLAG=(-x CKPT_BLOCK_SIZE); fi
mpi 4 "${ENV_FLAG[@]}" "$HEAT" --nx 512 --ny 300 --init cold --steps 40 --checkpoint-every 10 \
  --dir heat >/dev/null
expect 0 list heat
version=$(ls heat/*.commit | tail -1 | sed 's/.*\.v0*\([0-9]*\)\.commit/\1/')
expect 0 extract heat "$version" --region temperature -o t.npy --json
[[ $(json_field global) == True && $(json_field shape) == "[300, 512]" ]] ||
  fail "metadata of temperature: $(cat "$OUT")"
state=$((300 * 512 * 8))
read_bytes=$(json_field read_bytes)
((read_bytes >= state && read_bytes < state + 512 * 1024)) ||
  fail "extracting temperature ($state bytes) read $read_bytes bytes"
"$H5DUMP" -b LE -d /regions/temperature -o view.bin "heat/ckpt.v$(printf %06d "$version").h5" >/dev/null
cmp -s <(npy_body t.npy) view.bin || fail "extract and the file's view /regions/temperature differ"
pass "a global region of version $version is its global array, read in $read_bytes bytes"
expect 0 extract heat "$version" --region step --rank 3 -o step.npy --json
read_bytes=$(json_field read_bytes)
((read_bytes < state / 4)) || fail "extracting step (8 bytes) read $read_bytes bytes"
pass "extracting the 8-byte step read $read_bytes bytes, not the grid's $state"
expect 0 extract heat "$version" --region temperature --rank 2 -o piece.h5 --json
[[ $(json_field shape) == "[150, 256]" ]] || fail "rank 2's piece: $(cat "$OUT")"
pass "one rank's piece of a global region"
cd .. && rm -rf x
log "PASS ($CHECKS checks)"

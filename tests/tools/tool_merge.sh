# ckpt merge: folds a delta chain into a new base that verifies, holds the
# same block hashes, stands alone, and restarts (through the library) to
# exactly the state of the merged version.
source "$(dirname "$0")/tool_common.sh"

# 2 ranks, 7 checkpoints, a base every 4: chains 1-2-3-4 and 5-6-7.
make_dir run 2 7 4
expect 0 inspect run 3 --json
cp "$OUT" v3.json

expect 0 merge run 3
sed 's/^/    | /' "$OUT"
out_has '^merged version 3 \(chain 1 2 3\) into base version 8: '
expect 0 list run --json
json 'd["newest_committed"] == 8 and d["versions"][-1]["kind"] == "base" and d["versions"][-1]["chain"] == [8]'
json 'd["versions"][-1]["step"] == 3 and d["versions"][-1]["dirty_ratio"] == 1.0 and d["versions"][-1]["nranks"] == 2'
expect 0 verify run 8
out_has '^version 8 \(base, step 3, 2 rank\(s\)\): OK, 8 region\(s\), 32 block\(s\)'
expect 0 inspect run 8 --json
json 'd["kind"] == "base" and d["step"] == 3 and d["totals"]["stored_blocks"] == d["totals"]["blocks"]'
json '"ckpt merge of version 3" in d["library"]'
"$PYTHON" - v3.json "$OUT" <<'PY' || fail "the merged version's regions or hashes differ from version 3"
import json, sys
old, new = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert old["hashes"]["xxh3"] == new["hashes"]["xxh3"], "hash tables differ"
assert old["topology"] == new["topology"] and old["block_size"] == new["block_size"]
key = lambda r: [(x["id"], x["name"], x["type"], x["count"], x["bytes"], x["blocks"], x["hashes_xxh3"]) for x in r["regions"]]
assert [key(r) for r in old["ranks"]] == [key(r) for r in new["ranks"]], "regions differ"
PY
pass "merge 3 -> base 8: same regions and block hashes, verifies"

# A restart through the library uses the merged version and restores exactly
# the state of step 3.
mpi 2 "$GEN" check run 8 >check.txt 2>&1 || {
  cat check.txt
  fail "restart from the merged version"
}
grep -q '^restored version 8 at step 3: every region identical' check.txt || fail "$(cat check.txt)"
# ...also alone, without the chain it came from.
rm -rf alone && mkdir alone && cp run/ckpt.v000008.* alone/
mpi 2 "$GEN" check alone 8 >check.txt 2>&1 || {
  cat check.txt
  fail "restart from the merged version alone"
}
grep -q '^restored version 8 at step 3: every region identical' check.txt || fail "$(cat check.txt)"
pass "restart from the merged base (with and without the old chain) restores step 3 exactly"

# Merging the newest delta; a base is left alone.
expect 0 merge run 7 --json
json 'd["merged"] and d["version"] == 7 and d["chain"] == [5, 6, 7] and d["new_version"] == 9'
mpi 2 "$GEN" check run 9 >check.txt 2>&1 || {
  cat check.txt
  fail "restart from merged version 9"
}
grep -q '^restored version 9 at step 7: every region identical' check.txt || fail "$(cat check.txt)"
before=$(find run -type f | wc -l)
expect 0 merge run 5
out_has 'version 5 is already a base: nothing to merge'
(($(find run -type f | wc -l) == before)) || fail "merging a base wrote files"
expect 0 verify run --all
pass "merge of the newest delta; a base is not merged"

# The heat example: merge a delta of a real run, restart the application from
# the merged version alone, and compare with an uninterrupted run.
if [[ -n ${CKPT_HEAT:-} ]]; then
  # A cold start with small blocks: heat spreads from the edges, so the
  # middle rows stay unchanged and every checkpoint after the first is a delta.
  heat() { mpi 2 env CKPT_KEEP=100 CKPT_BASE_EVERY=8 CKPT_BLOCK_SIZE=512 "$CKPT_HEAT" --nx 1024 --ny 64 --init cold "$@"; }
  rm -rf heat-run heat-clean heat-alone
  heat --steps 20 --checkpoint-every 0 --dir heat-clean >clean.txt 2>&1 || fail "$(cat clean.txt)"
  heat --steps 12 --checkpoint-every 3 --dir heat-run >run.txt 2>&1 || fail "$(cat run.txt)"
  expect 0 list heat-run --json
  json '[v["chain"] for v in d["versions"]] == [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]'
  expect 0 merge heat-run 3
  mkdir heat-alone && cp heat-run/ckpt.v000005.* heat-alone/
  heat --steps 20 --checkpoint-every 0 --dir heat-alone --restart >restart.txt 2>&1 ||
    fail "$(cat restart.txt)"
  grep -q '^restarted from version 5 at step 9$' restart.txt || fail "$(cat restart.txt)"
  want=$(sed -n 's/^checksum //p' clean.txt)
  got=$(sed -n 's/^checksum //p' restart.txt)
  [[ -n $want && $got == "$want" ]] || fail "heat restarted from the merged base: checksum $got, clean run $want"
  pass "heat restarted from a merged base alone reaches the clean run's checksum $want"
else
  log "SKIP the heat merge check: heat is not built"
fi

finish

# The read-only subcommands (list, inspect, verify, stats) and --help on a
# good directory with real delta chains, with every --json output parsed back.
source "$(dirname "$0")/tool_common.sh"

# 2 ranks, 6 checkpoints, a base every 4: chains 1-2-3-4 and 5-6.
make_dir good 2 6 4
log "wrote checkpoints 1-6 on 2 ranks"

# --help on the tool and every subcommand.
expect 0 --help
out_has '^  verify'
for cmd in list inspect verify merge prune stats config; do
  expect 0 "$cmd" --help
  out_has "^Usage: ckpt $cmd"
  out_has 'Exit status'
done
expect 0 help verify
out_has '^Usage: ckpt verify'
expect 0 --version
pass "--help on every subcommand"

# list
expect 0 list good
sed 's/^/    | /' "$OUT"
out_has '^ +4 +committed +4 +delta of base 1 +1 2 3 4 +2 '
out_has '^ +5 +committed +5 +base +5 '
expect 0 list --dir good --json
json 'd["newest_committed"] == 6 and [v["version"] for v in d["versions"]] == [1, 2, 3, 4, 5, 6]'
json 'all(v["state"] == "committed" and v["restorable"] and v["nranks"] == 2 for v in d["versions"])'
json '[v["kind"] for v in d["versions"]] == ["base", "delta", "delta", "delta", "base", "delta"]'
json 'd["versions"][3]["chain"] == [1, 2, 3, 4] and d["versions"][5]["chain"] == [5, 6]'
json 'd["versions"][0]["dirty_ratio"] == 1.0 and 0 < d["versions"][2]["dirty_ratio"] < 0.6'
json 'all(v["written_bytes"] < v["state_bytes"] for v in d["versions"] if v["kind"] == "delta")'
pass "list (text and JSON)"

# inspect: the newest committed version by default, or the one named.
expect 0 inspect good
sed 's/^/    | /' "$OUT"
out_has '^checkpoint version 6 in good'
out_has '^  kind +delta of base 5, parent 5 \(chain 5 6\)'
out_has '^  topology +host='
out_has '^  library +libckpt '
out_has "^ +1 +3 +records +bytes\(24\) +100 +2400 +1 +"
expect 0 inspect good 3 --json
json 'd["version"] == 3 and d["kind"] == "delta" and d["base_version"] == 1 and d["parent_version"] == 2'
json 'd["format"] == "libckpt" and d["format_version"] == 2 and d["nranks"] == 2 and d["block_size"] == 4096'
json 'd["chain"] == [1, 2, 3] and d["topology"].startswith("host=") and d["library"].startswith("libckpt")'
json '[len(r["regions"]) for r in d["ranks"]] == [4, 4]'
json '[r["name"] for r in d["ranks"][1]["regions"]] == ["grid", "counts", "step", "records"]'
json 'd["ranks"][0]["regions"][0]["bytes"] == 40000 and d["ranks"][1]["regions"][0]["bytes"] == 45600'
json 'd["ranks"][0]["regions"][0]["blocks"] == 10 and d["ranks"][1]["regions"][0]["blocks"] == 12'
json '0 < d["totals"]["stored_blocks"] < d["totals"]["blocks"] and 0 < d["totals"]["dirty_ratio"] < 1'
json 'd["hashes"]["count"] == d["totals"]["blocks"] and len(d["hashes"]["xxh3"]) == 16'
json 'd["commit"]["dirty_blocks"] == d["totals"]["stored_blocks"]'
expect 0 inspect good 3 --rank 1 --json
json '[r["rank"] for r in d["ranks"]] == [1]'
pass "inspect (text and JSON)"

# verify: the newest, one version, all of them.
expect 0 verify good
out_has '^version 6 \(delta of base 5, chain 5 6, step 6, 2 rank\(s\)\): OK'
expect 0 verify good 4
out_has '^version 4 .*: OK, 8 region\(s\), 32 block\(s\)'
expect 0 verify good --all --json
json 'd["ok"] and [v["version"] for v in d["versions"]] == [1, 2, 3, 4, 5, 6]'
json 'all(v["ok"] and v["damaged_blocks"] == 0 and v["problem"] is None for v in d["versions"])'
pass "verify (text and JSON)"

# stats: one line per checkpoint from good/ckpt.stats.
expect 0 stats good
sed 's/^/    | /' "$OUT"
out_has '^ +3 +3 +delta of base 1 +2 '
out_has '^6 checkpoint\(s\): '
expect 0 stats good --json
json '[c["version"] for c in d["checkpoints"]] == [1, 2, 3, 4, 5, 6] and d["skipped_lines"] == []'
json 'all(c["nranks"] == 2 and c["seconds"] > 0 and c["bandwidth_bytes_per_second"] > 0 for c in d["checkpoints"])'
json 'd["checkpoints"][0]["dirty_ratio"] == 1.0 and d["checkpoints"][1]["dirty_ratio"] < 0.6'
json 'd["totals"]["checkpoints"] == 6 and d["totals"]["written_bytes"] < d["totals"]["state_bytes"]'
# The stats agree with the commit records.
expect 0 list good --json
cp "$OUT" list.json
expect 0 stats good --json
"$PYTHON" - list.json "$OUT" <<'PY' || fail "stats and list disagree"
import json, sys
listed = {v["version"]: v for v in json.load(open(sys.argv[1]))["versions"]}
for c in json.load(open(sys.argv[2]))["checkpoints"]:
    v = listed[c["version"]]
    for key in ("step", "state_bytes", "written_bytes", "blocks", "dirty_blocks", "nranks"):
        assert c[key] == v[key], (c["version"], key, c[key], v[key])
PY
# A partial last line (a run killed while appending) is skipped with a warning.
printf '{"version":7,"step":7,"kind":"del' >>good/ckpt.stats
tool stats good --json
((RC == 0)) || fail "stats with a partial line exited with $RC"
json 'len(d["checkpoints"]) == 6 and d["skipped_lines"][0]["line"] == 7'
grep -q 'line 7 skipped' "$ERR" || fail "no warning about the partial line"
pass "stats (text and JSON, partial line skipped)"

# The prefix: from --prefix, CKPT_PREFIX or a configuration file.
mkdir -p other
for f in good/ckpt.v000001.*; do cp "$f" "other/run${f#good/ckpt}"; done
expect_error 2 "not a checkpoint directory.*prefix 'run'.*--prefix run" list other
expect 0 list other --prefix run --json
json '[v["version"] for v in d["versions"]] == [1]'
CKPT_PREFIX=run expect 0 list other --json
json '[v["version"] for v in d["versions"]] == [1]'
printf '[ckpt]\nprefix = run\ndir = other\n' >run.ini
expect 0 verify --config run.ini
out_has '^version 1 .*: OK'
pass "prefix and directory from flag, environment and config file"

finish

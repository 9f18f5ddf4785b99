# ckpt prune: the retention rule of the runtime (keep the N newest restorable
# versions and their chains), --dry-run versus the real thing.
source "$(dirname "$0")/tool_common.sh"

count_files() { find "$1" -name 'ckpt.v*' | wc -l; }

# 2 ranks, 9 checkpoints, a base every 4: chains 1-2-3-4, 5-6-7-8 and 9.
make_dir run 2 9 4
n=$(count_files run)
((n == 18)) || fail "expected 18 files, found $n"

expect 0 prune run --keep 2 --dry-run
sed 's/^/    | /' "$OUT"
out_has '^dry run: '
out_has '^ +1 +committed +base .* would remove '
out_has '^ +5 +committed +base .* keep +in the delta chain of version 8$'
out_has '^would remove 4 version\(s\) \(1 2 3 4\)'
expect 0 prune run --keep 2 --dry-run --json
json 'd["dry_run"] and d["would_remove"] == [1, 2, 3, 4] and d["keep"] == 2'
json '[v["action"] for v in d["versions"]] == ["remove"] * 4 + ["keep"] * 5'
expect 0 prune run --keep 1 --dry-run --json
json 'd["would_remove"] == [1, 2, 3, 4, 5, 6, 7, 8]'
(($(count_files run) == 18)) || fail "--dry-run deleted files"
pass "--dry-run shows what would go and deletes nothing"

expect 0 prune run --keep 2
out_has '^removed 4 version\(s\) \(1 2 3 4\)'
expect 0 list run --json
json '[v["version"] for v in d["versions"]] == [5, 6, 7, 8, 9] and all(v["restorable"] for v in d["versions"])'
expect 0 verify run --all
mpi 2 "$GEN" check run 9 >check.txt 2>&1 || fail "$(cat check.txt)"
pass "prune --keep 2 removed 1-4; the rest verifies and restarts"

# Keeping 2 when the newest is a base still keeps the whole chain of the second.
expect 0 prune run --keep 2 --json
json 'd["removed"] == []'
# An unrestorable version does not count as kept; a version newer than the
# newest committed one (a write in progress) is never deleted.
cp "$(data_file run 9)" "$(data_file run 10)" # no commit record: incomplete
rm "$(commit_file run 5)"                      # breaks the chain of 6, 7 and 8
expect 0 prune run --keep 2 --dry-run --json
json 'd["would_remove"] == [5, 6, 7, 8]'
json '[v["reason"] for v in d["versions"] if v["version"] == 10][0].startswith("newer than the newest committed")'
expect 0 prune run --keep 2
expect 0 list run --json
json '[(v["version"], v["state"]) for v in d["versions"]] == [(9, "committed"), (10, "incomplete")]'
pass "unrestorable versions are not kept; in-progress versions are never deleted"

finish

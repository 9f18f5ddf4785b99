# Every subcommand on damaged directories and bad input: a flipped byte in
# /data and in /hashes, a deleted commit record, a truncated file, a file of
# garbage, missing or unreadable directories, unknown versions and bad
# arguments. Damage gives exit 1 and names the file, rank, region and block;
# bad input gives exit 2; every error is one line on stderr.
source "$(dirname "$0")/tool_common.sh"

# 2 ranks, 6 checkpoints, a base every 4: chains 1-2-3-4 and 5-6. Region 3
# ("records") changes only at step 2, so its block 0 comes from version 2 in
# versions 2, 3 and 4.
make_dir pristine 2 6 4

# --- a flipped byte in /data of version 2 -----------------------------------
rm -rf d1 && cp -r pristine d1
at=$(region_field d1 2 1 3 data_offset)
flip_byte "$(data_file d1 2)" $(($(dataset_offset "$(data_file d1 2)" /data) + at + 5))
expect_error 1 "ckpt.v000002.h5: rank 1 region 3 'records' block 0" verify d1 4
out_has '^version 4 .*: FAILED, 1 of 32 block\(s\) damaged'
out_has "^  ckpt.v000002.h5: rank 1 region 3 'records' block 0: the stored bytes \(version 2\) do not match"
expect 1 verify d1 2 --json
json 'not d["ok"] and d["versions"][0]["damaged_blocks"] == 1'
json 'd["versions"][0]["damage"][0] == {**d["versions"][0]["damage"][0], "rank": 1, "region_id": 3, "region": "records", "block": 0, "file_version": 2}'
json 'd["versions"][0]["damage"][0]["file"].endswith("ckpt.v000002.h5")'
expect 0 verify d1 1
expect 0 verify d1 5
expect 1 verify d1 --all --json
json '[(v["version"], v["ok"]) for v in d["versions"]] == [(1, True), (2, False), (3, False), (4, False), (5, True), (6, True)]'
expect 0 verify d1 # the newest committed version, 6, does not need version 2
expect 0 list d1   # commit records are intact: list does not read the data
expect 0 inspect d1 2
expect_error 1 "does not verify, nothing merged: ckpt.v000002.h5: rank 1 region 3 'records' block 0" merge d1 4
[[ ! -e $(data_file d1 7) && ! -e $(commit_file d1 7) ]] || fail "a failed merge left files behind"
pass "flipped byte in /data: damaged file, rank, region and block named"

# --- a flipped byte in /hashes of version 4 ----------------------------------
# Block 0 of rank 0's "records" comes from version 2; version 4 records its hash.
rm -rf d2 && cp -r pristine d2
index=$(($(region_field d2 4 0 3 hash_offset)))
flip_byte "$(data_file d2 4)" $(($(dataset_offset "$(data_file d2 4)" /hashes) + 8 * index + 2))
expect_error 1 "ckpt.v000004.h5: rank 0 region 3 'records' block 0" verify d2 4
out_has "match that file's hash but not the hash recorded for version 4"
expect 0 verify d2 3
pass "flipped byte in /hashes: the newest file is blamed, not the data"

# --- a deleted commit record --------------------------------------------------
rm -rf d3 && cp -r pristine d3
rm "$(commit_file d3 6)"
expect 0 list d3 --json
json '[v["state"] for v in d["versions"]] == ["committed"] * 5 + ["incomplete"]'
json 'd["versions"][5]["problem"].startswith("no commit record") and d["newest_committed"] == 5'
expect 0 list d3
out_has '^ +6 +incomplete +- .*no commit record'
expect_error 1 "version 6 is incomplete: no commit record" verify d3 6
expect 0 verify d3 # newest committed: 5
out_has '^version 5 '
expect 1 verify d3 --all
out_has '^version 6: FAILED'
expect 0 inspect d3 6 # the file itself is readable
out_has '^checkpoint version 6 in d3 \(prefix ckpt\): incomplete'
out_has '^  committed +no'
expect_error 1 "cannot merge version 6: it is incomplete" merge d3 6
pass "deleted commit record: incomplete"

# --- a truncated base file ----------------------------------------------------
rm -rf d4 && cp -r pristine d4
truncate -s 3000 "$(data_file d4 1)"
expect 0 list d4 --json
json 'd["versions"][0]["state"] == "corrupt" and "has 3000 bytes" in d["versions"][0]["problem"]'
json '[v["restorable"] for v in d["versions"]] == [False, False, False, False, True, True]'
json '"needs version 1, which is corrupt" in d["versions"][3]["problem"]'
expect 0 list d4
out_has '^ +2 +committed \(unrestorable\) '
expect_error 1 "version 4 needs version 1, which is corrupt" verify d4 4
expect_error 1 "version 1 is corrupt: data file .*has 3000 bytes" verify d4 1
expect_error 1 "cannot open checkpoint file .*ckpt.v000001.h5 \(HDF5: .*truncated file" inspect d4 1
expect_error 1 "cannot merge version 3: version 3 needs version 1" merge d4 3
expect 0 verify d4
pass "truncated file: corrupt, its chain unrestorable"

# --- garbage of the right size in place of a file -----------------------------
rm -rf d5 && cp -r pristine d5
size=$(stat -c %s "$(data_file d5 5)")
head -c "$size" /dev/urandom >"$(data_file d5 5)"
expect 0 list d5 # the size matches the commit record
expect_error 1 "ckpt.v000005.h5" inspect d5 5
expect_error 1 "ckpt.v000005.h5" verify d5 6
expect_error 1 "ckpt.v000005.h5" verify d5 5
expect 1 verify d5 --all --json
json '[v["ok"] for v in d["versions"]] == [True, True, True, True, False, False]'
pass "garbage file: exit 1, named"

# --- a damaged commit record --------------------------------------------------
rm -rf d6 && cp -r pristine d6
sed -i 's/^step = 3$/step = 33/' "$(commit_file d6 3)"
expect 0 list d6 --json
json 'd["versions"][2]["state"] == "corrupt" and "record_hash mismatch" in d["versions"][2]["problem"]'
expect_error 1 "record_hash mismatch" verify d6 3
expect_error 1 "version 4 needs version 3, which is corrupt" verify d6 4
pass "damaged commit record: corrupt"

# --- bad input: exit 2, one line ----------------------------------------------
mkdir -p empty
touch plain-file
expect_error 2 "no such checkpoint directory: no-such-dir" list no-such-dir
expect_error 2 "plain-file is not a directory" inspect plain-file
expect_error 2 "empty is not a checkpoint directory" verify empty
expect_error 2 "no such checkpoint directory" stats no-such-dir
expect_error 2 "no statistics file" stats empty
expect_error 2 "version 99 is not in pristine .*versions: 1-6" inspect pristine 99
expect_error 2 "version 99 is not in pristine" verify pristine 99
expect_error 2 "version 99 is not in pristine" merge pristine 99
expect_error 2 "'abc' is not a checkpoint version" inspect pristine abc
expect_error 2 "either a VERSION or --all" verify pristine 3 --all
expect_error 2 "unexpected argument '4'" inspect pristine 3 4
expect_error 2 "unrecognised option '--colour'|unrecognized option '--colour'" list pristine --colour
expect_error 2 "--keep.*required" prune pristine
expect_error 2 "--keep must be at least 1" prune pristine --keep 0
expect_error 2 "which version" merge pristine
expect_error 2 "unknown command 'frobnicate'" frobnicate
expect_error 2 "--rank 5: version 6 has ranks 0 to 1" inspect pristine --rank 5
expect_error 2 "no command given"
pass "bad input: exit 2 with one line"

# --- no permission (as an unprivileged user, when this test runs as root) ---
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
  # expect_as_nobody RC PATTERN ARGS...: like expect_error, as user nobody.
  expect_as_nobody() {
    local want=$1 pattern=$2
    shift 2
    RC=0
    as_nobody "$TOOL" "$@" >"$OUT" 2>"$ERR" || RC=$?
    if ((RC != want)) || ! grep -q -E -e "$pattern" "$ERR" || (($(grep -c . "$ERR") != 1)); then
      show_output
      fail "ckpt $* as nobody: exit $RC, expected $want and one line matching '$pattern'"
    fi
    pass "ckpt $* as nobody -> exit $want: $(head -c 200 "$ERR")"
  }
  rm -rf locked && cp -r pristine locked
  chmod -R a+rX locked
  if as_nobody test -r "$(data_file locked 1)"; then
    chmod 700 locked
    expect_as_nobody 2 "cannot read directory locked: Permission denied" list locked
    chmod 755 locked
    chmod 600 "$(data_file locked 6)"
    expect_as_nobody 2 "cannot read .*ckpt.v000006.h5: Permission denied" inspect locked 6
    expect_as_nobody 2 "cannot read .*ckpt.v000006.h5: Permission denied" verify locked
    expect_as_nobody 2 "cannot open the lock file locked/ckpt.lock .*Permission denied" prune locked --keep 1
    expect_as_nobody 2 "cannot open the lock file locked/ckpt.lock .*Permission denied" merge locked 4
    pass "no permission: exit 2 with one line"
  else
    log "SKIP the permission checks: user nobody cannot reach $PWD"
  fi
else
  log "SKIP the permission checks: they need root (to run as nobody) and setpriv"
fi

finish

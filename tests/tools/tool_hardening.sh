# Hardening of the tool and the runtime against a hostile or confused
# checkpoint directory (#11): FIFOs and links where files are read (nothing
# blocks, nothing is read without end), stray version numbers (ignored and
# reported), and the directory lock (a second job and ckpt prune are refused
# while a job holds it; the lock goes with the process that held it).
source "$(dirname "$0")/tool_common.sh"

# 1 rank, 3 checkpoints, a base every 8: the chain 1-2-3.
make_dir run 1 3 8

# A FIFO as a commit record and as the stats file; a link to /dev/zero as a
# commit record. Every read-only subcommand returns promptly.
rm "$(commit_file run 3)" run/ckpt.stats
mkfifo "$(commit_file run 3)" run/ckpt.stats
rm "$(commit_file run 2)"
ln -s /dev/zero "$(commit_file run 2)"
expect 0 list run --json
json '[v["state"] for v in d["versions"]] == ["committed", "corrupt", "corrupt"]'
json '"FIFO" in d["versions"][2]["problem"] and "symbolic link" in d["versions"][1]["problem"]'
pass "list: a FIFO and a link to /dev/zero as commit records are corrupt versions, read without blocking"
expect_error 2 'ckpt\.stats is a FIFO, not a regular file' stats run
expect 0 inspect run 1
tool verify run --all
((RC == 1)) || fail "verify --all exited with $RC, expected 1 (damage found)"
pass "inspect and verify return (verify reports the damaged versions)"
mpi 1 "$GEN" check run 1 >check.txt 2>&1 || fail "restart: $(cat check.txt)"
pass "restart falls back to version 1 without blocking"

# Stray version numbers: ignored, reported, never shift the numbering.
make_dir run 1 2 8
touch run/ckpt.v9223372036854775807.h5 run/ckpt.v99999999999999999999.commit
expect 0 list run
out_has '^note: 2 file\(s\) named like checkpoint files are not part of any version:'
out_has '^  ckpt\.v9223372036854775807\.h5: version number of 19 digits'
expect 0 list run --json
json '[v["version"] for v in d["versions"]] == [1, 2] and len(d["ignored"]) == 2'
pass "list reports the names it ignores"
mpi 1 "$GEN" write run 3 8 >gen.txt 2>&1 || fail "a job after the stray files: $(cat gen.txt)"
expect 0 list run --json
json '[v["version"] for v in d["versions"]] == [1, 2, 3, 4, 5]'
pass "the next job numbers on from 2, not from 2^63-1"

# The lock: a process holding <dir>/ckpt.lock (as a running job does) keeps a
# second job and ckpt prune out.
make_dir run 1 3 8
# The holder is one process (the subshell becomes sleep): killing it frees the lock.
(
  exec 9>>run/ckpt.lock
  flock 9 # blocking: the probe below may hold the lock for an instant
  exec sleep 120
) &
holder=$!
locked=0
for _ in $(seq 100); do
  flock -n run/ckpt.lock true 2>/dev/null || {
    locked=1
    break
  }
  sleep 0.1
done
((locked)) || fail "the test's lock holder did not take run/ckpt.lock within 10 s"
expect_error 2 'checkpoint directory run is in use by another job' prune run --keep 1
mpi 1 "$GEN" write run 2 8 >gen.txt 2>&1 && fail "a second job on a locked directory succeeded"
grep -q 'checkpoint directory run is in use by another job' gen.txt || {
  cat gen.txt
  fail "the second job's error does not say the directory is in use"
}
expect 0 prune run --keep 1 --dry-run
expect 0 list run
pass "a second job and prune are refused while the directory is locked; read-only commands run"
kill "$holder"
wait "$holder" 2>/dev/null || true
expect 0 prune run --keep 1
mpi 1 "$GEN" write run 2 8 >gen.txt 2>&1 || fail "a job after the lock was released: $(cat gen.txt)"
pass "once the holder is gone, prune and a new job run"

finish

#!/usr/bin/env bash
# Kills one rank while a checkpoint is being written, at a chosen phase of the
# write (libckpt's CKPT_DEBUG_KILL=<phase>:<version>:<rank> makes that rank
# SIGKILL itself there), then restarts and checks:
#   - a version killed before its commit record was renamed into place is not
#     committed, and the restart comes from the previous version (except that
#     rank 0 may still commit it when another rank dies in before_commit);
#   - a version killed after its commit is the one restarted from;
#   - the final field equals the uninterrupted run's, bit for bit;
#   - the checkpoints the restarted run writes over the debris of the killed
#     one are valid too (a second restart from the last one gives the same
#     field).
#
# usage: heat_kill_in_checkpoint.sh HEAT PHASE NP RANK
#   PHASE: before_data | after_data | before_commit | after_commit
set -euo pipefail
HEAT=$1
PHASE=$2
NP=$3
KILL_RANK=$4
source "$(dirname "$0")/common.sh"

GRID=(--nx 128 --ny 128)
STEPS=60
EVERY=10
KILL_VERSION=3 # the checkpoint at step 30 of a fresh directory
case $PHASE in
  before_data | after_data) ALLOWED=$((KILL_VERSION - 1)) ;;
  before_commit)
    # Every rank has agreed that the data is complete; rank 0 alone writes
    # the commit record. If rank 0 is killed, the version is lost; if another
    # rank is, rank 0 may still commit before the launcher stops it: both
    # outcomes are consistent, and the restart must use whichever is newest.
    if ((KILL_RANK == 0)); then ALLOWED=$((KILL_VERSION - 1)); else ALLOWED="$((KILL_VERSION - 1)) $KILL_VERSION"; fi
    ;;
  after_commit) ALLOWED=$KILL_VERSION ;;
  *) fail "unknown phase '$PHASE'" ;;
esac
RUN=(--steps "$STEPS" --checkpoint-every "$EVERY" --dir run/ckpt)

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

log "kill rank $KILL_RANK in phase $PHASE of checkpoint version $KILL_VERSION"
export CKPT_DEBUG_KILL=$PHASE:$KILL_VERSION:$KILL_RANK
forward_env CKPT_DEBUG_KILL
MPIEXEC_PLAIN=("${MPIEXEC[@]}")
MPIEXEC+=("${FORWARD[@]}")
run_heat "$NP" run/killed.txt "${GRID[@]}" "${RUN[@]}"
unset CKPT_DEBUG_KILL
MPIEXEC=("${MPIEXEC_PLAIN[@]}")
((RC != 0)) || fail "the run was not killed (is CKPT_DEBUG_KILL honoured?)"
if grep -q '^checksum ' run/killed.txt; then fail "the killed run finished anyway"; fi

COMMITTED=$(newest_commit run/ckpt)
log "newest commit record after the kill: version $COMMITTED"
[[ " $ALLOWED " == *" $COMMITTED "* ]] ||
  fail "after a kill in $PHASE of version $KILL_VERSION the newest commit record should be version ${ALLOWED// / or }"
EXPECT_VERSION=$COMMITTED

run_heat "$NP" run/restarted.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the restart failed"
VERSION=$(restarted_version run/restarted.txt)
STEP=$(restarted_step run/restarted.txt)
[[ $VERSION == "$EXPECT_VERSION" ]] ||
  fail "restarted from version '${VERSION}', expected $EXPECT_VERSION"
((STEP == EXPECT_VERSION * EVERY)) || fail "restarted at step $STEP, expected $((EXPECT_VERSION * EVERY))"
expect_same_checksum run/restarted.txt "$REFERENCE" "killed in $PHASE, restarted from version $VERSION"

# The restarted run checkpointed up to step $STEPS over the killed run's files.
LAST=$(newest_commit run/ckpt)
run_heat "$NP" run/again.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the second restart failed"
[[ $(restarted_version run/again.txt) == "$LAST" ]] ||
  fail "the second restart did not use the newest version $LAST"
[[ $(restarted_step run/again.txt) == "$STEPS" ]] || fail "the second restart is not at step $STEPS"
expect_same_checksum run/again.txt "$REFERENCE" "restarted again from version $LAST"
rm -rf ref run
log "PASS"

#!/usr/bin/env bash
# The levels (docs/FORMAT.md, section 7): apps/heat with a local level in
# the test's directory (local_dir) and the global level in run/ckpt, written
# in the background (heat asks for MPI_THREAD_MULTIPLE). One rank SIGKILLs
# itself at a named point (CKPT_DEBUG_KILL), or the global level fails, then
# the job restarts and must
#   - use the newest version committed on some level, from the fastest level
#     that holds it (local before global),
#   - end bit for bit like an uninterrupted run.
#
# usage: heat_levels.sh HEAT SCENARIO NP [CKPT_TOOL]
#   With the ckpt tool, the killed run's levels are also listed and the
#   local level verified (ckpt list / ckpt verify --level local).
#   flush        killed in the background flush of version 3, before its data
#                reach the global file: version 3 is on the local level
#   flush_commit killed just after the flush committed version 3 globally:
#                version 3 is on both levels; the local one is used
#   local        killed before its local commit record of version 3:
#                version 2 is the newest (local level)
#   node_lost    killed after the local commit of version 3, and the local
#                level removed (the job comes back on other nodes): the
#                global level's newest, version 2
#   partner      4 ranks as 2 simulated nodes (node_id and local_dir per
#                node from the rank): killed during the partner copy of
#                version 3: version 3 from the local level
#   node_gone    4 ranks as 2 nodes, killed after the partner copy of
#                version 3 (before its global write), and node 0's local
#                directory removed: version 3 from the partner level, the
#                lost ranks' files rebuilt from their copies on node 1
#   full_global  the global directory is a 64 KiB tmpfs (as root, where
#                mount works; otherwise every global write fails by
#                CKPT_DEBUG_FAIL=checkpoint_space, the same refusal): each
#                checkpoint commits locally, the background failure is
#                reported naming version and level, and the run killed after
#                version 4 restarts from the local level
set -euo pipefail
HEAT=$1
SCENARIO=$2
NP=$3
TOOL=${4:-}
source "$(dirname "$0")/common.sh"

GRID=(--nx 128 --ny 128)
STEPS=60
EVERY=10
RUN=(--steps "$STEPS" --checkpoint-every "$EVERY" --dir run/ckpt)
export CKPT_LOCAL_DIR=$PWD/run/local
MOUNTED=
finish() {
  if [[ -n $MOUNTED ]]; then umount "$MOUNTED" 2>/dev/null || true; fi
  cleanup_sessions
}
trap finish EXIT

rm -rf ref run && mkdir ref run
if [[ $SCENARIO == partner || $SCENARIO == node_gone ]]; then
  # Two ranks per simulated node: each node has its own local_dir.
  cat >run/as_node.sh <<EOS
#!/usr/bin/env bash
rank=\${OMPI_COMM_WORLD_RANK:-\${PMI_RANK:-0}}
export CKPT_NODE_ID=node\$((rank / 2)) CKPT_LOCAL_DIR=$PWD/run/node\$((rank / 2))
exec "$HEAT" "\$@"
EOS
  chmod +x run/as_node.sh
fi
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

LEVEL=local
case $SCENARIO in
  # (The killed rank's application thread may have committed version 4 on
  # the local level while its flush thread wrote version 3.)
  flush) KILL=before_data:3:$((NP - 1)) EXPECT="3 4" ;;
  flush_commit) KILL=after_commit:3:0 EXPECT="3 4" ;;
  local) KILL=local_before_commit:3:$((NP - 1)) EXPECT=2 ;;
  partner) KILL=partner_copy:3:$((NP - 1)) EXPECT=3 ;;
  node_gone) KILL=flush_start:3:0 EXPECT=3 LEVEL=partner ;;
  node_lost) KILL=local_after_commit:3:0 LEVEL=global ;; # EXPECT: the global level's newest
  full_global)
    KILL=local_after_commit:4:0 EXPECT=4
    mkdir -p run/ckpt
    if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=64k tmpfs run/ckpt 2>/dev/null; then
      MOUNTED=$PWD/run/ckpt
      log "run/ckpt is a 64 KiB tmpfs"
    else
      export CKPT_DEBUG_FAIL=checkpoint_space:0
      log "cannot mount a tmpfs: every global write fails by CKPT_DEBUG_FAIL=$CKPT_DEBUG_FAIL"
    fi
    ;;
  *) fail "unknown scenario '$SCENARIO'" ;;
esac

if [[ -e run/as_node.sh ]]; then APP=$PWD/run/as_node.sh; fi
export CKPT_DEBUG_KILL=$KILL
log "kill at $KILL"
forward_env CKPT_DEBUG_KILL CKPT_LOCAL_DIR ${CKPT_DEBUG_FAIL:+CKPT_DEBUG_FAIL}
MPIEXEC_PLAIN=("${MPIEXEC[@]}")
MPIEXEC+=("${FORWARD[@]}")
run_heat "$NP" run/killed.txt "${GRID[@]}" "${RUN[@]}"
unset CKPT_DEBUG_KILL CKPT_DEBUG_FAIL
MPIEXEC=("${MPIEXEC_PLAIN[@]}")
((RC != 0)) || fail "the run was not killed (is CKPT_DEBUG_KILL honoured?)"
if grep -q '^checksum ' run/killed.txt; then fail "the killed run finished anyway"; fi
if [[ $SCENARIO == full_global ]]; then
  grep -q "checkpoint version [0-9]* could not be written to the global level" run/killed.txt ||
    fail "the failed background flush was not reported"
fi
if [[ -n $TOOL && ( $SCENARIO == flush || $SCENARIO == local ) ]]; then
  "$TOOL" list run/ckpt --local-dir run/local >run/list.txt
  sed 's/^/    | /' run/list.txt
  grep -q "ranks $(seq -s, 0 $((NP - 1))) (own)" run/list.txt ||
    fail "ckpt list does not show the local level"
  "$TOOL" verify --level local --all run/ckpt --local-dir run/local >run/verify.txt ||
    fail "ckpt verify --level local failed: $(cat run/verify.txt)"
  log "ckpt verify --level local: $(tail -n 1 run/verify.txt)"
fi
if [[ $SCENARIO == node_gone ]]; then
  log "node 0's local directory is lost"
  rm -rf run/node0
fi
if [[ $SCENARIO == node_lost ]]; then
  log "the local level is lost"
  rm -rf run/local
  # (Version 2's flush may not have ended when the job died.)
  EXPECT=$(newest_commit run/ckpt)
  ((EXPECT >= 1)) || fail "no version on the global level"
fi

forward_env CKPT_LOCAL_DIR
MPIEXEC+=("${FORWARD[@]}")
run_heat "$NP" run/restarted.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the restart failed"
VERSION=$(restarted_version run/restarted.txt)
[[ " $EXPECT " == *" $VERSION "* ]] ||
  fail "restarted from version '$VERSION', expected ${EXPECT// / or }"
grep -q "restart from checkpoint version $VERSION (.*, $LEVEL level)" run/restarted.txt ||
  fail "version $VERSION was not restored from the $LEVEL level"
expect_same_checksum run/restarted.txt "$REFERENCE" "$SCENARIO: restarted from version $VERSION ($LEVEL level)"

if [[ -z $MOUNTED && $SCENARIO != full_global ]]; then
  # The finished run's newest version reached the global level, and the
  # local level was removed at ckpt_finalize.
  LAST=$(sed -n 's/.*info: checkpoint version \([0-9]*\) .*/\1/p' run/restarted.txt | tail -n 1)
  [[ $(newest_commit run/ckpt) == "$LAST" ]] ||
    fail "the last version ($LAST) is not on the global level after ckpt_finalize"
  if compgen -G "run/local/*/ckpt.v*" >/dev/null || compgen -G "run/node*/*/ckpt.v*" >/dev/null; then
    fail "the local level was left behind"
  fi
fi
if [[ -n $MOUNTED ]]; then umount "$MOUNTED" && MOUNTED=; fi
rm -rf ref run
log "PASS"

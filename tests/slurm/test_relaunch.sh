#!/usr/bin/env bash
# test_relaunch.sh HEAT LAUNCHER - jobscripts/heat-relaunch.sbatch recovers from a failure.
#
# The job runs heat with CKPT_DEBUG_KILL=after_commit:2:1: rank 1 SIGKILLs itself right after
# checkpoint version 2 is committed, which ends the first attempt with a failure. (Versions
# keep counting up across restarts, so later attempts never meet version 2 again.)
# Checks: the loop relaunched once, the second attempt restarted from version 2, the job
# COMPLETED, and the checksum equals a clean run's.
set -euo pipefail
HEAT=${1:?usage: test_relaunch.sh HEAT mpirun|srun}
LAUNCHER=${2:?usage: test_relaunch.sh HEAT mpirun|srun}
TEST_NAME=relaunch-$LAUNCHER
# shellcheck source=SCRIPTDIR/slurm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
require_slurm
[[ -x $HEAT ]] || fail "heat is not built: $HEAT"

NP=2
rm -rf run && mkdir run && cd run
reference=$(reference_checksum "$HEAT" "$NP" --nx 64 --ny 64 --steps 300 --checkpoint-every 50)
note "clean run: checksum $reference"

ckpt=$PWD/ckpt
job=$(submit LAUNCHER="$LAUNCHER" NP="$NP" HEAT_BIN="$HEAT" HEAT_NX=64 HEAT_NY=64 \
  HEAT_STEPS=300 HEAT_CKPT_EVERY=50 HEAT_DIR="$ckpt" MAX_RETRIES=2 RETRY_DELAY=1 \
  CKPT_DEBUG_KILL=after_commit:2:1 -- \
  --ntasks="$NP" --time=5 --output="$PWD/job-%j.out" "$JOBSCRIPTS/heat-relaunch.sbatch")
out=$PWD/job-$job.out
note "submitted job $job"
wait_until 180 "job $job to finish" job_is_finished "$job"
show_file "$out"

state=$(job_field "$job" JobState)
[[ $state = COMPLETED ]] || fail "job $job ended $state (ExitCode $(job_field "$job" ExitCode))"
[[ -f $ckpt/ckpt.v000002.commit ]] || fail "version 2 was not committed before the kill"
expect_line "$out" 'CKPT_DEBUG_KILL: killing this rank at after_commit of version 2' \
  "rank 1 was not killed after committing version 2"
expect_line "$out" "^heat-relaunch: attempt 1 failed \(status [0-9]+\): relaunching" \
  "the first attempt did not fail, or the loop did not relaunch"
expect_line "$out" "^heat-relaunch: job $job attempt 2 of 3 .* --restart=auto( |$)" \
  "no second attempt with --restart=auto"
expect_line "$out" '^restarted from version 2 at step 100$' \
  "the second attempt did not restart from version 2 (step 100)"
expect_line "$out" '^heat-relaunch: RESULT done: heat finished in attempt 2, after 1 relaunch\(es\)$' \
  "no final result line for a success in attempt 2"
if grep -q 'attempt 3 of 3' "$out"; then fail "a third attempt ran"; fi

checksum=$(final_checksum "$out")
[[ $checksum = "$reference" ]] ||
  fail "checksum after the relaunch $checksum differs from the clean run's $reference"
note "PASS: rank killed after version 2 -> relaunched -> restarted from version 2" \
  "-> checksum $checksum equals the clean run"

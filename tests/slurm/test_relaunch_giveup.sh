#!/usr/bin/env bash
# test_relaunch_giveup.sh HEAT - jobscripts/heat-relaunch.sbatch stops after MAX_RETRIES.
#
# The checkpoint directory holds a checkpoint of a 64x64 grid and the job runs a 32x32 grid
# with --restart=auto: every attempt fails the same way (the checkpoint does not fit, heat
# exits 1). With MAX_RETRIES=2 the loop must make exactly 3 attempts, then give up with a
# clear message, and the job must end FAILED with heat's status.
set -euo pipefail
HEAT=${1:?usage: test_relaunch_giveup.sh HEAT}
TEST_NAME=relaunch-giveup
# shellcheck source=SCRIPTDIR/slurm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
require_slurm
[[ -x $HEAT ]] || fail "heat is not built: $HEAT"

NP=2
rm -rf run && mkdir run && cd run
reference_checksum "$HEAT" "$NP" --nx 64 --ny 64 --steps 50 --checkpoint-every 50 >/dev/null
ckpt=$PWD/reference # now holds version 1 of the 64x64 grid
[[ -f $ckpt/ckpt.v000001.commit ]] || fail "the clean run committed no checkpoint"

job=$(submit NP="$NP" HEAT_BIN="$HEAT" HEAT_NX=32 HEAT_NY=32 HEAT_STEPS=100 \
  HEAT_CKPT_EVERY=50 HEAT_DIR="$ckpt" MAX_RETRIES=2 RETRY_DELAY=0 -- \
  --ntasks="$NP" --time=5 --output="$PWD/job-%j.out" "$JOBSCRIPTS/heat-relaunch.sbatch")
out=$PWD/job-$job.out
note "submitted job $job"
wait_until 180 "job $job to finish" job_is_finished "$job"
show_file "$out"

state=$(job_field "$job" JobState)
[[ $state = FAILED ]] || fail "job $job ended $state, expected FAILED"
[[ $(job_field "$job" ExitCode) = 1:0 ]] ||
  fail "job $job exit code $(job_field "$job" ExitCode), expected heat's 1:0"
attempts=$(grep -c "^heat-relaunch: job $job attempt [0-9] of 3 " "$out" || true)
[[ $attempts = 3 ]] || fail "$attempts attempts, expected 3 (MAX_RETRIES=2)"
expect_line "$out" 'CKPT_ERR_MISMATCH' "heat did not fail on the mismatching checkpoint"
expect_line "$out" '^heat-relaunch: RESULT gave up: attempt 3 of 3 failed \(status 1\); MAX_RETRIES=2 relaunches used' \
  "no clear give-up line"
if grep -q '^checksum ' "$out"; then fail "heat finished although every attempt should fail"; fi
note "PASS: 3 attempts, then the loop gave up; job FAILED with exit code 1"

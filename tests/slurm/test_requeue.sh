#!/usr/bin/env bash
# test_requeue.sh HEAT LAUNCHER - jobscripts/heat-requeue.sbatch on a real Slurm.
#
#  1. a clean run of heat, launched directly, gives the reference checksum;
#  2. the job script is submitted (LAUNCHER = mpirun or srun); once heat has committed its
#     first periodic checkpoint, `scancel --signal=USR1 --batch` plays the time-limit warning;
#  3. checks: the batch shell forwarded the signal, heat checkpointed and exited 85, the script
#     requeued the job (scontrol: Restarts=1), the requeued run saw SLURM_RESTART_COUNT=1 and
#     restarted from the signal's checkpoint (its commit record exists), the job COMPLETED,
#     and its checksum equals the reference.
set -euo pipefail
HEAT=${1:?usage: test_requeue.sh HEAT mpirun|srun}
LAUNCHER=${2:?usage: test_requeue.sh HEAT mpirun|srun}
TEST_NAME=requeue-$LAUNCHER
# shellcheck source=SCRIPTDIR/slurm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
require_slurm
[[ -x $HEAT ]] || fail "heat is not built: $HEAT"

NP=2
# Small and slowed down (20 ms a step): the run lasts several seconds, so the signal arrives
# while heat runs, and the test stays short.
HEAT_ARGS=(--nx 64 --ny 64 --steps 300 --checkpoint-every 50)
rm -rf run && mkdir run && cd run

reference=$(reference_checksum "$HEAT" "$NP" "${HEAT_ARGS[@]}")
note "clean run: checksum $reference"

ckpt=$PWD/ckpt
job=$(submit LAUNCHER="$LAUNCHER" NP="$NP" HEAT_BIN="$HEAT" HEAT_NX=64 HEAT_NY=64 \
  HEAT_STEPS=300 HEAT_CKPT_EVERY=50 HEAT_SLEEP_MS=20 HEAT_DIR="$ckpt" FIRST_RESTART=no -- \
  --ntasks="$NP" --time=5 --output="$PWD/job-%j.out" "$JOBSCRIPTS/heat-requeue.sbatch")
out=$PWD/job-$job.out
note "submitted job $job"

wait_until 120 "job $job to run and commit its first checkpoint" any_commit_in "$ckpt"
job_is_running "$job" || fail "job $job is $(job_field "$job" JobState) before the signal"
note "first checkpoint committed: $(cd "$ckpt" && echo ckpt.v*.commit)"
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job failed"
note "sent SIGUSR1 to the batch shell of job $job"

was_requeued() { [[ $(job_field "$job" Restarts) -ge 1 ]]; }
wait_until 120 "job $job to be requeued" was_requeued
note "job $job requeued: Restarts=$(job_field "$job" Restarts)," \
  "state $(job_field "$job" JobState)"
wait_until 180 "job $job to finish" job_is_finished "$job"
show_file "$out"

state=$(job_field "$job" JobState)
[[ $state = COMPLETED ]] || fail "job $job ended $state (ExitCode $(job_field "$job" ExitCode))"
[[ $(job_field "$job" Restarts) = 1 ]] ||
  fail "job $job was requeued $(job_field "$job" Restarts) times, expected once"
[[ $(job_field "$job" ExitCode) = 0:0 ]] || fail "job $job exit code $(job_field "$job" ExitCode)"

# The first run: signal forwarded, checkpoint on the signal, exit 85, requeue.
expect_line "$out" "^heat-requeue: job $job run 1 \(SLURM_RESTART_COUNT=0\).* --restart=no( |$)" \
  "the first run did not start fresh"
expect_line "$out" "^heat-requeue: SIGUSR1 received: forwarding SIGUSR1 to $LAUNCHER" \
  "the batch shell did not forward the signal"
expect_line "$out" '^checkpointed at step [0-9]+ on a signal; exiting for requeue \(85\)$' \
  "heat did not checkpoint on the signal"
expect_line "$out" "^heat-requeue: RESULT checkpointed; requeueing job $job" \
  "the script did not requeue the job"
signal_step=$(sed -n 's/^checkpointed at step \([0-9]*\) on a signal.*/\1/p' "$out" | head -n1)

# The requeued run: SLURM_RESTART_COUNT=1, --restart=auto, continues from that checkpoint.
expect_line "$out" "^heat-requeue: job $job run 2 \(SLURM_RESTART_COUNT=1\).* --restart=auto( |$)" \
  "the requeued run did not see SLURM_RESTART_COUNT=1 or did not use --restart=auto"
expect_line "$out" "^restarted from version [0-9]+ at step $signal_step\$" \
  "the requeued run did not restart from the checkpoint taken at step $signal_step"
version=$(sed -n "s/^restarted from version \([0-9]*\) at step $signal_step\$/\1/p" "$out" | head -n1)
commit=$(printf '%s/ckpt.v%06d.commit' "$ckpt" "$version")
[[ -f $commit ]] || fail "no commit record $commit for the restarted version $version"
expect_line "$out" "^heat-requeue: RESULT done: heat finished in job $job after 1 requeue\(s\)" \
  "no final result line"

checksum=$(final_checksum "$out")
[[ $checksum = "$reference" ]] ||
  fail "checksum after requeue and restart $checksum differs from the clean run's $reference"
note "PASS: signal at step $signal_step -> version $version committed -> requeued (Restarts=1)" \
  "-> restarted -> checksum $checksum equals the clean run"

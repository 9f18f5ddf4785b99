# shellcheck shell=bash
# slurm_lib.sh - helpers for the Slurm end-to-end tests (sourced, not run).
#
# The tests share one Slurm brought up by the slurm_start fixture (slurm_fixture.sh start)
# in LOCAL_SLURM_DIR. It leaves one marker there: 'ready' when Slurm runs, 'unavailable'
# (with the reason) when it could not be installed or started; then every test is skipped
# (exit 77, CTest's SKIP_RETURN_CODE) with that reason.

SLURM_TEST_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_SOURCE_DIR=$(cd "$SLURM_TEST_SOURCE_DIR/../.." && pwd)
# shellcheck disable=SC2034 # used by the tests that source this file
JOBSCRIPTS=$PROJECT_SOURCE_DIR/jobscripts
: "${LOCAL_SLURM_DIR:?set by tests/slurm/CMakeLists.txt}"
SLURM_READY=$LOCAL_SLURM_DIR/ready
SLURM_UNAVAILABLE=$LOCAL_SLURM_DIR/unavailable
readonly SKIP=77

note() { printf '[%s] %s\n' "${TEST_NAME:-slurm-test}" "$*"; }
skip() {
  note "SKIPPED: $*"
  exit "$SKIP"
}
fail() {
  note "FAIL: $*"
  exit 1
}

# Skips the test unless the fixture brought Slurm up; fails when it did but Slurm is gone.
require_slurm() {
  [[ ! -f $SLURM_UNAVAILABLE ]] || skip "$(cat "$SLURM_UNAVAILABLE")"
  [[ -f $SLURM_READY ]] ||
    skip "Slurm was not started for the tests (the slurm_start fixture did not run: use ctest -L slurm or -R, not -FA)"
  scontrol ping >/dev/null 2>&1 || fail "slurmctld does not answer although slurm_start brought it up"
}

# The job ids this test submitted, cancelled on exit if still queued or running.
SUBMITTED_JOBS=()
cancel_submitted_jobs() {
  local job
  for job in "${SUBMITTED_JOBS[@]}"; do
    if [[ -n $(squeue --noheader --jobs="$job" --format=%i 2>/dev/null) ]]; then
      note "cancelling job $job"
      scancel "$job" 2>/dev/null || true
    fi
  done
}
trap cancel_submitted_jobs EXIT

# submit [VAR=VALUE ...] -- SBATCH_ARGS...: sbatch with extra environment; prints the job id.
# Every version is kept (CKPT_KEEP) so that the checks can look at the older ones.
submit() {
  local env_vars=(CKPT_KEEP=1000) job
  while [[ $1 != -- ]]; do
    env_vars+=("$1")
    shift
  done
  shift
  job=$(env "${env_vars[@]}" sbatch --parsable "$@") || fail "sbatch $* failed"
  job=${job%%;*}
  SUBMITTED_JOBS+=("$job")
  echo "$job"
}

# job_field JOB FIELD: the value of FIELD in `scontrol show job JOB`.
job_field() {
  scontrol show job --oneliner "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# wait_until TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND every 0.2 s; fails after TIMEOUT_S.
wait_until() {
  local timeout=$1 what=$2 tries
  shift 2
  tries=$((timeout * 5))
  until "$@"; do
    ((--tries > 0)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

job_is_finished() {
  case $(job_field "$1" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}
job_is_running() { [[ $(job_field "$1" JobState) = RUNNING ]]; }
any_commit_in() { compgen -G "$1/ckpt.v*.commit" >/dev/null; }

# show_file FILE: print FILE indented, for the test log.
show_file() {
  note "---- $1"
  sed 's/^/    /' "$1" || true
  note "---- end of $1"
}

# reference_checksum HEAT NP HEAT_ARGS...: checksum of a clean run of heat, launched directly
# (CKPT_MPIEXEC, no Slurm) in ./reference.
reference_checksum() {
  local heat=$1 np=$2 mpiexec sum
  shift 2
  read -ra mpiexec <<<"${CKPT_MPIEXEC:?set by CTest}"
  rm -rf reference
  "${mpiexec[@]}" "${CKPT_MPIEXEC_NUMPROC_FLAG:--n}" "$np" "$heat" "$@" --dir reference \
    --restart=no >reference.out 2>&1 || {
    show_file reference.out >&2
    fail "the clean run of heat failed"
  }
  sum=$(sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' reference.out)
  [[ -n $sum ]] || {
    show_file reference.out >&2
    fail "the clean run of heat printed no checksum"
  }
  echo "$sum"
}

# expect_line FILE REGEX DESCRIPTION: fail unless a line of FILE matches the extended REGEX.
expect_line() {
  grep -Eq -- "$2" "$1" || {
    show_file "$1"
    fail "$3 (no line matching '$2' in $1)"
  }
}

# final_checksum FILE: the one checksum heat printed in FILE; fails unless exactly one.
final_checksum() {
  local sums
  sums=$(sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1")
  [[ $(wc -l <<<"$sums") -eq 1 && -n $sums ]] || {
    show_file "$1"
    fail "expected exactly one checksum line in $1, got: ${sums:-none}"
  }
  echo "$sums"
}

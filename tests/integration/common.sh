# Shared helpers of the kill/restart tests of the example applications (heat,
# wildfire). Sourced, not run: the script sets APP (or HEAT) to the
# application's executable first.
# shellcheck shell=bash
#
# Environment (set by ckpt_add_script_test): CKPT_MPIEXEC, e.g.
# "/usr/bin/mpiexec --oversubscribe", and CKPT_MPIEXEC_NUMPROC_FLAG (-n).
# Every run goes through `timeout`, so a hang fails the test instead of
# outliving it; background runs get their own session so that they can be
# killed as a whole (Open MPI puts each rank in its own process group, but all
# of them stay in the launcher's session).

set -euo pipefail

# The tests rely on libckpt's default file names and signal; a CKPT_* setting
# left in the caller's environment must not change them.
unset CKPT_DIR CKPT_PREFIX CKPT_SIGNAL CKPT_EXIT_ON_SIGNAL CKPT_DEBUG_KILL

read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
RUN_LIMIT=${CKPT_TEST_RUN_LIMIT:-180} # seconds for one launcher run
TEST_NAME=$(basename "$0" .sh)
APP=${APP:-${HEAT:?set APP (or HEAT) to the application before sourcing common.sh}}
APP_NAME=$(basename "$APP")

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}

# Seeds $RANDOM from CKPT_TEST_SEED or a fresh value and says how to rerun.
seed_random() {
  local seed=${CKPT_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
  RANDOM=$seed
  log "random seed $seed (rerun with CKPT_TEST_SEED=$seed)"
}

# Flags that make the launcher pass the named environment variables to the
# ranks (Open MPI: -x NAME); other launchers pass the environment anyway.
ENV_FLAG=()
if "${MPIEXEC[0]}" --version 2>&1 | grep -q -e 'Open MPI' -e 'OpenRTE'; then
  ENV_FLAG=(-x)
  # When a rank fails, Open MPI's launcher waits 1 s between SIGTERM and
  # SIGKILL for the others (about 2 s per failed job): end them at once.
  export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}
fi
forward_env() {
  local name
  FORWARD=()
  if ((${#ENV_FLAG[@]} > 0)); then
    for name in "$@"; do FORWARD+=("${ENV_FLAG[@]}" "$name"); done
  fi
}

# Shows a run's output, indented, without the progress lines.
show() { grep -v -E '^step [0-9]+$' "$1" | sed 's/^/    | /' || true; }

# run_app NP OUT ARGS...: runs the application to the end, output (both
# streams) in OUT. Sets RC to the launcher's exit code. run_heat: the same.
run_app() {
  local np=$1 out=$2
  shift 2
  log "run: $APP_NAME on $np ranks: $*"
  RC=0
  timeout -k 10 "$RUN_LIMIT" "${MPIEXEC[@]}" "$NP_FLAG" "$np" "$APP" "$@" >"$out" 2>&1 || RC=$?
  show "$out"
  log "exit code $RC"
  if ((RC == 124)); then fail "$APP_NAME did not finish within ${RUN_LIMIT}s (hang?)"; fi
}
run_heat() { run_app "$@"; }

# The checksum line of a finished run; fails unless there is exactly one.
checksum_of() {
  local sums
  sums=$(sed -n 's/^checksum \([0-9a-f]\{16\}\)$/\1/p' "$1")
  [[ $(printf '%s\n' "$sums" | grep -c .) == 1 ]] || fail "expected one checksum line in $1"
  printf '%s\n' "$sums"
}

# reference_checksum NP OUT ARGS...: a clean, uninterrupted run without
# checkpoints in its own directory.
reference_checksum() {
  local np=$1 out=$2
  shift 2
  run_app "$np" "$out" --checkpoint-every 0 "$@"
  ((RC == 0)) || fail "the clean run failed"
  checksum_of "$out" >/dev/null
}

# ---- background runs -------------------------------------------------------

JOB_SID= # session of the background run: the launcher (under timeout) and its ranks
JOB_WAITER= # the subshell that waits for it
JOB_OUT=
SESSIONS=()

# Kills whatever is left of every background run this script started.
cleanup_sessions() {
  local sid
  for sid in "${SESSIONS[@]}"; do kill_session "$sid"; done
}
trap cleanup_sessions EXIT

# The processes of session SID (the launcher and all ranks).
session_pids() { ps -e -o pid=,sid= | awk -v sid="$1" '$2 == sid { print $1 }'; }

kill_session() {
  local pid
  for pid in $(session_pids "$1"); do kill -KILL "$pid" 2>/dev/null || true; done
}

# start_app NP OUT ARGS...: starts the application in the background in a new
# session. A subshell waits for it, so that the shell's "Killed" notice stays
# out of the test output. start_heat: the same.
start_app() {
  local np=$1
  JOB_OUT=$2
  shift 2
  log "start: $APP_NAME on $np ranks: $*"
  rm -f "$JOB_OUT.sid"
  (
    setsid timeout -k 10 "$RUN_LIMIT" "${MPIEXEC[@]}" "$NP_FLAG" "$np" "$APP" "$@" \
      >"$JOB_OUT" 2>&1 &
    echo "$!" >"$JOB_OUT.sid"
    wait "$!"
  ) 2>/dev/null &
  JOB_WAITER=$!
  until [[ -s $JOB_OUT.sid ]]; do sleep 0.01; done
  JOB_SID=$(<"$JOB_OUT.sid")
  SESSIONS+=("$JOB_SID")
}
start_heat() { start_app "$@"; }

job_running() { kill -0 "$JOB_WAITER" 2>/dev/null; }

# wait_for_output PATTERN [TIMEOUT]: waits until the job's output has a line
# matching the extended regular expression PATTERN. Returns 1 if the job
# ended first; fails after TIMEOUT seconds (default 120).
wait_for_output() {
  local pattern=$1 limit=${2:-120}
  local deadline=$((SECONDS + limit))
  until grep -q -E -e "$pattern" "$JOB_OUT"; do
    if ! job_running; then
      grep -q -E -e "$pattern" "$JOB_OUT" && return 0
      return 1
    fi
    ((SECONDS < deadline)) || fail "no output line matching '$pattern' after ${limit}s"
    sleep 0.01
  done
}

# The pid of rank R of the job (found by the launcher's rank variable).
rank_pid() {
  local rank=$1 pid
  for pid in $(session_pids "$JOB_SID"); do
    # Not `grep -q`: it may exit before tr has written everything, and with
    # pipefail tr's SIGPIPE would make a match look like a miss.
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
      grep -x -E "(OMPI_COMM_WORLD_RANK|PMIX_RANK|PMI_RANK)=$rank" >/dev/null; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# kill_rank R [SIGNAL]: a signal (default KILL) to rank R alone; after
# SIGKILL the launcher must end the job.
kill_rank() {
  local pid signal=${2:-KILL}
  pid=$(rank_pid "$1") || fail "cannot find the process of rank $1"
  log "kill -$signal rank $1 (pid $pid)"
  kill "-$signal" "$pid"
}

# kill_job: SIGKILL to the launcher and every rank at once, like a node loss.
kill_job() {
  log "kill -KILL the launcher and all ranks (session $JOB_SID)"
  kill_session "$JOB_SID"
}

# wait_job: waits for the background run to end; RC is its exit code.
wait_job() {
  RC=0
  wait "$JOB_WAITER" || RC=$?
  # A launcher killed by SIGKILL cannot clean up: do not leave ranks behind.
  kill_session "$JOB_SID"
  show "$JOB_OUT"
  log "exit code $RC"
  ((RC != 124)) || fail "$APP_NAME did not finish within ${RUN_LIMIT}s (hang?)"
}

# ---- the random-kill experiment ---------------------------------------------

# kill_and_restart NP STEPS EVERY MIN_KILL_STEP ARGS...: runs the application
# on NP ranks for STEPS steps with a checkpoint every EVERY steps into
# run/ckpt (ARGS added), kills it with SIGKILL at a random step from
# MIN_KILL_STEP on (the whole job, or one random rank), checks that it died
# with a committed checkpoint, restarts it with --restart, and checks that it
# restarted from the newest commit at a step where a checkpoint was due.
# Outputs: run/killed.txt, run/restarted.txt; sets KILL_STEP and STEP (the
# step it restarted at). The caller compares the checksum.
kill_and_restart() {
  local np=$1 steps=$2 every=$3 min_step=$4 target committed version
  shift 4
  local args=(--steps "$steps" --checkpoint-every "$every" --dir run/ckpt "$@")
  KILL_STEP=$((min_step + RANDOM % (steps - min_step)))
  if ((np > 1 && RANDOM % 2 == 0)); then
    target=job
  else
    target=$((RANDOM % np))
  fi
  log "plan: kill at step $KILL_STEP of $steps (checkpoint every $every), target: $([[ $target == job ]] && echo 'the whole job' || echo "rank $target")"

  start_app "$np" run/killed.txt "${args[@]}" --sleep-ms 10 --print-every 1
  wait_for_output "^step $KILL_STEP\$" || fail "$APP_NAME ended before step $KILL_STEP"
  if [[ $target == job ]]; then kill_job; else kill_rank "$target"; fi
  wait_job
  ((RC != 0)) || fail "the killed run exited with 0"
  if grep -q '^checksum ' run/killed.txt; then fail "the killed run finished anyway"; fi

  report_interrupted run/ckpt
  committed=$(newest_on_some_level run/ckpt "$np")
  ((committed >= 1)) || fail "no committed checkpoint although step $KILL_STEP was reached"

  run_app "$np" run/restarted.txt "${args[@]}" --restart
  ((RC == 0)) || fail "the restarted run failed"
  version=$(restarted_version run/restarted.txt)
  STEP=$(restarted_step run/restarted.txt)
  [[ -n $version ]] || fail "the restarted run did not say which version it restarted from"
  ((version == committed)) || fail "restarted from version $version, not the newest committed $committed"
  # The kill may land after the last checkpoint (step == steps): the restart
  # then only reports the final result, which is still compared below.
  ((STEP % every == 0 && STEP >= KILL_STEP / every * every && STEP <= steps)) ||
    fail "restarted at step $STEP; expected a multiple of $every from $((KILL_STEP / every * every)) on"
}

# ---- checkpoint directory --------------------------------------------------

# newest_on_some_level DIR NP: the newest version committed on the global
# level (DIR) or, when the run has a local level (CKPT_LOCAL_DIR), held by
# all NP ranks there (each rank's record <prefix>.vN.rR.commit; local_dir is
# one node here, with one subdirectory per job directory).
newest_on_some_level() {
  local dir=$1 np=$2 newest f v
  newest=$(newest_commit "$dir")
  if [[ -n ${CKPT_LOCAL_DIR:-} && $CKPT_LOCAL_DIR != none ]]; then
    declare -A ranks=()
    for f in "$CKPT_LOCAL_DIR"/*/ckpt.v[0-9][0-9][0-9][0-9][0-9][0-9].r[0-9][0-9][0-9][0-9][0-9][0-9].commit; do
      [[ -e $f ]] || continue
      v=${f##*/ckpt.v}
      v=$((10#${v%%.*}))
      ranks[$v]=$((${ranks[$v]:-0} + 1))
    done
    for v in "${!ranks[@]}"; do
      ((ranks[$v] == np && v > newest)) && newest=$v
    done
  fi
  printf '%s\n' "$newest"
}

# Newest committed version in DIR (commit records ckpt.v<6 digits>.commit), 0 if none.
newest_commit() {
  local dir=$1 newest=0 f v
  for f in "$dir"/ckpt.v[0-9][0-9][0-9][0-9][0-9][0-9].commit; do
    [[ -e $f ]] || continue
    v=${f##*/ckpt.v}
    v=$((10#${v%.commit}))
    ((v > newest)) && newest=$v
  done
  printf '%s\n' "$newest"
}

# restarted_version OUT: the version the application says it restarted from
# ("" if none).
restarted_version() {
  sed -n 's/^restarted from version \([0-9]\+\) at step \([0-9]\+\)$/\1/p' "$1"
}
restarted_step() {
  sed -n 's/^restarted from version \([0-9]\+\) at step \([0-9]\+\)$/\2/p' "$1"
}

# expect_same_checksum OUT REFERENCE WHAT
expect_same_checksum() {
  local got
  got=$(checksum_of "$1")
  [[ $got == "$2" ]] || fail "$3: checksum $got differs from the clean run's $2"
  log "$3: checksum $got equals the clean run's"
}

# payload_extent FILE: "OFFSET SIZE" in bytes of the contiguous dataset /data
# (the raw block payload of a checkpoint file), from h5dump.
payload_extent() {
  local extent
  extent=$(h5dump -p -H -d /data "$1" | awk '
    /STORAGE_LAYOUT/ { layout = 1 }
    layout && $1 == "CHUNKED" { chunked = 1 }
    layout && $1 == "SIZE" { size = $2 }
    layout && $1 == "OFFSET" { offset = $2 }
    END { if (!chunked && offset != "" && size > 0) print offset, size }')
  [[ -n $extent ]] || fail "cannot find a contiguous /data dataset in $1 (h5dump -p -H -d /data)"
  printf '%s\n' "$extent"
}

# flip_byte FILE OFFSET: inverts every bit of the byte at OFFSET in place.
flip_byte() {
  local file=$1 offset=$2 old new
  old=$(od -A n -t u1 -j "$offset" -N 1 "$file" | tr -d ' ')
  [[ -n $old ]] || fail "$file has no byte at offset $offset"
  new=$((old ^ 255))
  # shellcheck disable=SC2059 # the format is the octal escape itself
  printf "\\$(printf '%03o' "$new")" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
  log "flipped the byte at offset $offset of $file: $old -> $new"
}

# commit_file DIR VERSION / data_file DIR VERSION: the files of a version.
commit_file() { printf '%s/ckpt.v%06d.commit\n' "$1" "$2"; }
data_file() { printf '%s/ckpt.v%06d.h5\n' "$1" "$2"; }

# report_interrupted DIR: says whether the kill interrupted a checkpoint write
# (files of a version newer than the newest commit record).
report_interrupted() {
  local dir=$1 committed f v newest_file=0
  committed=$(newest_commit "$dir")
  for f in "$dir"/ckpt.v[0-9][0-9][0-9][0-9][0-9][0-9].*; do
    [[ -e $f ]] || continue
    v=${f##*/ckpt.v}
    v=$((10#${v%%.*}))
    ((v > newest_file)) && newest_file=$v
  done
  if ((newest_file > committed)); then
    log "the kill interrupted the write of version $newest_file (newest commit record: $committed)"
  else
    log "the kill landed outside a checkpoint write (newest commit record: $committed)"
  fi
}

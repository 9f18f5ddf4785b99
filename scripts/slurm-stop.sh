#!/usr/bin/env bash
# slurm-stop.sh - stop the Slurm daemons that scripts/slurm-local.sh started, and only those.
#
# Usage: sudo scripts/slurm-stop.sh   (with the same LOCAL_SLURM_DIR as slurm-local.sh)
#
# Only the pids recorded in $LOCAL_SLURM_DIR/run/<daemon>.started are stopped, and only while
# they still are that daemon: a munged or Slurm that slurm-local.sh found running (or reused) is
# left alone. Jobs still in the queue of a slurmctld we started are cancelled first, so that no
# job processes outlive the daemons. Running it again, or with nothing recorded, does nothing.
# Packages, /etc/slurm/slurm.conf, the munge key and the logs in $LOCAL_SLURM_DIR stay.
#
# Knobs (environment variables):
#   LOCAL_SLURM_DIR      as for slurm-local.sh             (default /var/tmp/libckpt-slurm)
#   LOCAL_SLURM_PURGE=1  also remove $LOCAL_SLURM_DIR (state, logs) once the daemons are gone
#
# Exit status: 0, also when there was nothing to stop; 1 when a daemon survived SIGKILL.
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/var/tmp/libckpt-slurm}
RUN=$DIR/run

log() { printf '[slurm-stop] %s\n' "$*" >&2; }
is_running() {
  local pid=$1 name=$2
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) = "$name" ]] || return 1
  ! grep -qs '^State:[[:space:]]*Z' "/proc/$pid/status"
}
started_pid() {
  local record=$RUN/$1.started pid
  [[ -f $record ]] || return 1
  pid=$(<"$record")
  is_running "$pid" "$1" && echo "$pid"
}

# 1. Cancel the jobs left in the queue of our slurmctld and wait until they are gone.
if started_pid slurmctld >/dev/null; then
  jobs=$(squeue --noheader --format=%i 2>/dev/null || true)
  if [[ -n $jobs ]]; then
    log "cancelling jobs: ${jobs//$'\n'/ }"
    # shellcheck disable=SC2086 # one argument per job id
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 150); do
      [[ -z $(squeue --noheader --format=%i 2>/dev/null || true) ]] && break
      sleep 0.2
    done
    left=$(squeue --noheader --format='%i:%T' 2>/dev/null || true)
    [[ -z $left ]] || log "WARNING: jobs still in the queue: ${left//$'\n'/ }"
  fi
fi

# 2. Stop the daemons in the reverse order of their start.
status=0
for daemon in slurmd slurmctld munged; do
  record=$RUN/$daemon.started
  if [[ ! -f $record ]]; then
    log "$daemon: not started by slurm-local.sh from $DIR, left alone"
    continue
  fi
  pid=$(<"$record")
  if ! is_running "$pid" "$daemon"; then
    log "$daemon: recorded pid $pid no longer runs"
    rm -f "$record"
    continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    is_running "$pid" "$daemon" || break
    sleep 0.1
  done
  if is_running "$pid" "$daemon"; then
    log "$daemon: pid $pid still runs 15 s after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  if is_running "$pid" "$daemon"; then
    log "ERROR: $daemon (pid $pid) survived SIGKILL"
    status=1
    continue
  fi
  rm -f "$record"
  log "$daemon: stopped pid $pid"
done

if [[ ${LOCAL_SLURM_PURGE:-0} = 1 && $status = 0 ]]; then
  rm -rf "$DIR"
  log "removed $DIR"
fi
exit "$status"

#!/usr/bin/env bash
# slurm-local.sh - start a real single-node Slurm (munged, slurmctld, slurmd) on this machine,
# so that libckpt's job scripts (jobscripts/) can be tried by hand and tested (tests/slurm).
#
# Usage: sudo scripts/slurm-local.sh          (stop again with scripts/slurm-stop.sh)
#
# What it does, in order; each step is skipped when already done, so running it again is safe:
#   1. installs slurmctld, slurmd, slurm-client and munge with apt-get when a command is missing
#      (services are kept from starting at install time: this script starts what it needs);
#   2. makes the node name resolve (adds it to /etc/hosts if it does not);
#   3. creates the munge key if there is none and starts munged unless a working one runs;
#   4. writes /etc/slurm/slurm.conf for one node and one partition 'debug' (refuses to replace a
#      slurm.conf it did not write);
#   5. starts slurmctld and slurmd (restarts the ones it started when the configuration changed);
#   6. waits until the node accepts jobs.
# Each daemon it starts is recorded as $LOCAL_SLURM_DIR/run/<daemon>.started (pid); slurm-stop.sh
# stops exactly those and nothing else. Needs root and no systemd (daemons are started directly).
#
# Knobs (environment variables, all optional):
#   LOCAL_SLURM_DIR          state, spool, logs and pid records      (default /var/tmp/libckpt-slurm)
#   LOCAL_SLURM_NODE         node name                               (default: hostname -s)
#   LOCAL_SLURM_CPUS         CPUs of the node                        (default: nproc)
#   LOCAL_SLURM_MEM_MB       RealMemory of the node in MiB           (default: 90% of MemTotal)
#   LOCAL_SLURM_CRED_EXPIRE  seconds a job credential lives; a requeued job starts again only
#                            after it (Slurm's default is 120; the minimum 5)       (default 5)
#   LOCAL_SLURM_KILL_WAIT    seconds between SIGTERM and SIGKILL at a time limit    (default 10)
#   LOCAL_SLURM_TIMEOUT      seconds to wait for the node to accept jobs            (default 60)
#   LOCAL_SLURM_NO_INSTALL=1 never run apt-get: fail (status 3) when a package is missing
#   LOCAL_SLURM_FORCE_CONF=1 replace an /etc/slurm/slurm.conf this script did not write (it is
#                            kept as slurm.conf.before-libckpt)
#   LOCAL_SLURM_REUSE=1      when slurmctld/slurmd started from another LOCAL_SLURM_DIR (by this
#                            script: the slurm.conf is ours) already serve the node, use them
#                            as they are, record nothing, and so never stop them
#
# Exit status: 0 the node accepts jobs; 1 a daemon failed to start; 2 bad knob; 3 Slurm or munge
# is missing and cannot be installed (or not root); 4 a Slurm not started from LOCAL_SLURM_DIR
# is in the way.
#
# The configuration it writes: JobRequeue=0, so a job can be requeued only when it asks for it
# (#SBATCH --requeue), as on many production sites; proctrack/linuxproc and task/none (no
# cgroups: works in containers); no accounting; MpiDefault=none (jobs choose srun --mpi=...).
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/var/tmp/libckpt-slurm}
NODE=${LOCAL_SLURM_NODE:-$(hostname -s)}
CPUS=${LOCAL_SLURM_CPUS:-$(nproc)}
CRED_EXPIRE=${LOCAL_SLURM_CRED_EXPIRE:-5}
KILL_WAIT=${LOCAL_SLURM_KILL_WAIT:-10}
TIMEOUT=${LOCAL_SLURM_TIMEOUT:-60}

CONF=/etc/slurm/slurm.conf
MARK="# written by libckpt scripts/slurm-local.sh"
RUN=$DIR/run
MUNGE_SOCKET=/run/munge/munge.socket.2

log() { printf '[slurm-local] %s\n' "$*" >&2; }
fail() { # STATUS MESSAGE...
  local status=$1
  shift
  log "ERROR: $*"
  exit "$status"
}

for knob in CPUS CRED_EXPIRE KILL_WAIT TIMEOUT; do
  [[ ${!knob} =~ ^[0-9]+$ ]] || fail 2 "LOCAL_SLURM_$knob must be a whole number, not '${!knob}'"
done
((CRED_EXPIRE >= 5)) || fail 2 "LOCAL_SLURM_CRED_EXPIRE must be at least 5 (Slurm's minimum)"
[[ $DIR = /* ]] || fail 2 "LOCAL_SLURM_DIR must be an absolute path, not '$DIR'"

# ------------------------------------------------------------------------------ process helpers
# is_running PID NAME: PID is a live (not zombie) process whose command name is NAME.
is_running() {
  local pid=$1 name=$2
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) = "$name" ]] || return 1
  ! grep -qs '^State:[[:space:]]*Z' "/proc/$pid/status"
}
# started_pid NAME: print the pid this script recorded for daemon NAME, if it still runs.
started_pid() {
  local record=$RUN/$1.started pid
  [[ -f $record ]] || return 1
  pid=$(<"$record")
  is_running "$pid" "$1" && echo "$pid"
}
# wait_for_pidfile FILE NAME SECONDS: print the pid once FILE names a running NAME.
wait_for_pidfile() {
  local file=$1 name=$2 tries=$(($3 * 10)) pid
  while ((tries-- > 0)); do
    if [[ -s $file ]]; then
      pid=$(<"$file")
      is_running "$pid" "$name" && {
        echo "$pid"
        return 0
      }
    fi
    sleep 0.1
  done
  return 1
}
# foreign_pids NAME: running NAME processes that this script did not record (children of a
# recorded daemon, e.g. the slurmstepd-forks of slurmd, count as ours).
foreign_pids() {
  local name=$1 ours pid parent
  ours=$(started_pid "$name" || true)
  for pid in $(pgrep -x "$name" || true); do
    [[ $pid = "$ours" ]] && continue
    is_running "$pid" "$name" || continue
    parent=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
    [[ -n $ours && $parent = "$ours" ]] && continue
    echo "$pid"
  done
}
node_state() { sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -n1 || true; }
node_accepts_jobs() {
  case $(node_state) in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

# ------------------------------------------------------------------------------ 1. packages
install_packages() {
  local missing=() policy=/usr/sbin/policy-rc.d apt_log=$DIR/log/apt-get.log
  command -v slurmctld >/dev/null 2>&1 || missing+=(slurmctld)
  command -v slurmd >/dev/null 2>&1 || missing+=(slurmd)
  command -v sbatch >/dev/null 2>&1 || missing+=(slurm-client)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  ((${#missing[@]} > 0)) || return 0
  [[ ${LOCAL_SLURM_NO_INSTALL:-0} != 1 ]] || fail 3 "missing packages: ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || fail 3 "missing packages ${missing[*]} and no apt-get"
  log "installing ${missing[*]} with apt-get (log: $apt_log)"
  # Keep the packages' init scripts from starting daemons: what runs is started below, by us.
  local own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from libckpt slurm-local.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
    trap 'rm -f '"$policy" EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  local status=0
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    log "apt-get install failed; running apt-get update and trying again"
    apt-get update -q >>"$apt_log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 || status=1
  fi
  if ((own_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
  ((status == 0)) || {
    tail -n 5 "$apt_log" >&2
    fail 3 "apt-get could not install ${missing[*]} (see $apt_log)"
  }
  log "installed ${missing[*]}"
}

# ------------------------------------------------------------------------------ 2. node name
ensure_node_resolves() {
  getent hosts "$NODE" >/dev/null 2>&1 && return 0
  log "node name '$NODE' does not resolve: adding '127.0.0.1 $NODE' to /etc/hosts"
  printf '127.0.0.1 %s  %s\n' "$NODE" "$MARK" >>/etc/hosts
}

# ------------------------------------------------------------------------------ 3. munge
munge_works() { munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }
start_munge() {
  local key=/etc/munge/munge.key pid
  if [[ ! -s $key ]]; then
    log "creating $key"
    install -d -o munge -g munge -m 700 /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile="$key" --force
    else
      dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    fi
    chown munge:munge "$key"
    chmod 400 "$key"
  fi
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  if munge_works; then
    if pid=$(started_pid munged); then
      log "munged is running (pid $pid, started here)"
    else
      log "munged is running and was not started here: using it, slurm-stop.sh leaves it alone"
    fi
    return 0
  fi
  rm -f "$RUN/munged.started" /run/munge/munged.pid
  # munged runs as the unprivileged 'munge' user, as Debian's service does, and daemonizes.
  runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --pid-file=/run/munge/munged.pid ||
    fail 1 "munged did not start (see /var/log/munge/munged.log)"
  pid=$(wait_for_pidfile /run/munge/munged.pid munged 10) || fail 1 "munged wrote no pid file"
  echo "$pid" >"$RUN/munged.started"
  local tries=50
  until munge_works; do
    ((--tries > 0)) || fail 1 "munged runs (pid $pid) but 'munge -n | unmunge' fails"
    sleep 0.1
  done
  log "munged started (pid $pid)"
}

# ------------------------------------------------------------------------------ 4. slurm.conf
# Prints the configuration for this node.
render_conf() {
  local mem_mb topology="" detected
  mem_mb=${LOCAL_SLURM_MEM_MB:-$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)}
  # Describe the sockets/cores as slurmd detects them, else slurmd complains that the node
  # was reconfigured; only when the CPU count is the one we declare.
  detected=$(slurmd -C 2>/dev/null | head -n1 || true)
  if [[ $(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$detected") = "$CPUS" ]]; then
    topology=$(grep -o ' Boards=[0-9]* SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' \
      <<<"$detected" || true)
  fi
  cat <<EOF
$MARK
# One node, one partition, for trying and testing libckpt's job scripts. State: $DIR
ClusterName=libckpt
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=$CRED_EXPIRE
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
JobRequeue=0
KillWait=$KILL_WAIT
MinJobAge=600
InactiveLimit=0
Waittime=0
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS$topology RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}
# Installs the configuration; returns 0 when it changed, 1 when it was already in place.
install_conf() {
  local wanted
  wanted=$(mktemp)
  render_conf >"$wanted"
  if cmp -s "$wanted" "$CONF"; then
    rm -f "$wanted"
    return 1
  fi
  mkdir -p /etc/slurm
  if [[ -f $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
    cp -p "$CONF" "$CONF.before-libckpt"
    log "kept the previous $CONF as $CONF.before-libckpt"
  fi
  install -m 644 "$wanted" "$CONF"
  rm -f "$wanted"
  log "wrote $CONF"
  return 0
}

# ------------------------------------------------------------------------------ 5. daemons
stop_started() { # NAME: stop the daemon NAME if this script started it
  local pid tries=100
  pid=$(started_pid "$1") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while is_running "$pid" "$1" && ((tries-- > 0)); do sleep 0.1; done
  is_running "$pid" "$1" && kill -KILL "$pid" 2>/dev/null
  rm -f "$RUN/$1.started"
  log "$1 (pid $pid) stopped for the new configuration"
}
start_slurmctld() {
  local pid
  if pid=$(started_pid slurmctld); then
    log "slurmctld is running (pid $pid, started here)"
    return 0
  fi
  rm -f "$RUN/slurmctld.pid" "$RUN/slurmctld.started"
  # -c: forget the jobs of an earlier run, so tests start from an empty queue.
  slurmctld -c || fail 1 "slurmctld failed (see $DIR/log/slurmctld.log)"
  pid=$(wait_for_pidfile "$RUN/slurmctld.pid" slurmctld 15) ||
    fail 1 "slurmctld did not start (see $DIR/log/slurmctld.log)"
  echo "$pid" >"$RUN/slurmctld.started"
  log "slurmctld started (pid $pid)"
}
start_slurmd() {
  local pid
  if pid=$(started_pid slurmd); then
    log "slurmd is running (pid $pid, started here)"
    return 0
  fi
  rm -f "$RUN/slurmd.pid" "$RUN/slurmd.started"
  slurmd -N "$NODE" || fail 1 "slurmd failed (see $DIR/log/slurmd.log)"
  pid=$(wait_for_pidfile "$RUN/slurmd.pid" slurmd 15) ||
    fail 1 "slurmd did not start (see $DIR/log/slurmd.log)"
  echo "$pid" >"$RUN/slurmd.started"
  log "slurmd started (pid $pid)"
}

# ------------------------------------------------------------------------------ 6. node ready
wait_for_node() {
  local tries=$((TIMEOUT * 5)) state=""
  while ((tries-- > 0)); do
    state=$(node_state)
    case $state in
      idle | mixed | allocated | completing) break ;;
      down* | drain* | fail*) # e.g. left so by an earlier unclean stop
        scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  if ! node_accepts_jobs; then
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 2>/dev/null || true
    fail 1 "node $NODE does not accept jobs after ${TIMEOUT}s (state '${state:-unknown}')"
  fi
  log "node $NODE is ${state:-ready}"
}

# ------------------------------------------------------------------------------ main
[[ $(id -u) -eq 0 ]] || fail 3 "must run as root (installs packages, writes /etc/slurm, runs slurmd)"
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$RUN"
chmod 755 "$DIR"
install_packages

# A Slurm this script did not start from $DIR: reuse it when asked and it is ours, else stop here
# before changing anything.
others=""
for daemon in slurmctld slurmd; do
  others+=$(foreign_pids "$daemon" | sed "s/^/ $daemon:/" | tr -d '\n')
done
if [[ -n $others ]]; then
  if [[ ${LOCAL_SLURM_REUSE:-0} = 1 ]] && grep -qsF "$MARK" "$CONF" && node_accepts_jobs; then
    log "reusing the running Slurm (pids$others), not started from $DIR: it will not be stopped"
    exit 0
  fi
  fail 4 "Slurm daemons not started from LOCAL_SLURM_DIR=$DIR are running (pids$others)." \
    "Stop them (scripts/slurm-stop.sh with their LOCAL_SLURM_DIR) or set LOCAL_SLURM_REUSE=1."
fi
if [[ -f $CONF ]] && ! grep -qF "$MARK" "$CONF" && [[ ${LOCAL_SLURM_FORCE_CONF:-0} != 1 ]]; then
  fail 4 "$CONF was not written by this script; set LOCAL_SLURM_FORCE_CONF=1 to replace it"
fi

echo "$NODE" >"$RUN/node"
ensure_node_resolves
start_munge
if install_conf; then
  stop_started slurmd
  stop_started slurmctld
fi
start_slurmctld
start_slurmd
wait_for_node
sinfo

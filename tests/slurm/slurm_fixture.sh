#!/usr/bin/env bash
# slurm_fixture.sh start|stop - the CTest fixture of the Slurm tests.
#
#   start: bring up a real single-node Slurm with scripts/slurm-local.sh (installing it with
#          apt-get when missing), state in LOCAL_SLURM_DIR. Writes LOCAL_SLURM_DIR/ready, or,
#          when Slurm cannot be installed or started, LOCAL_SLURM_DIR/unavailable with the
#          reason and exits 77 (skipped); the tests then skip themselves with that reason.
#          A Slurm that slurm-local.sh started elsewhere and that already serves this node is
#          reused (LOCAL_SLURM_REUSE=1) and left running afterwards.
#   stop:  scripts/slurm-stop.sh: stops only the daemons that `start` started.
set -euo pipefail
TEST_NAME=slurm_fixture
# shellcheck source=SCRIPTDIR/slurm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_lib.sh"
trap - EXIT # no jobs of our own to cancel here
SCRIPTS=$PROJECT_SOURCE_DIR/scripts

case ${1:-} in
  start)
    rm -f "$SLURM_READY" "$SLURM_UNAVAILABLE"
    mkdir -p "$LOCAL_SLURM_DIR"
    status=0
    LOCAL_SLURM_REUSE=1 bash "$SCRIPTS/slurm-local.sh" 2>start.log || status=$?
    cat start.log >&2
    if ((status != 0)); then
      case $status in
        3) why="Slurm/munge are not installed and cannot be installed here (needs root and apt-get)" ;;
        4) why="another Slurm is in the way" ;;
        *) why="slurm-local.sh could not start Slurm (status $status)" ;;
      esac
      detail=$(grep -h 'ERROR' start.log | tail -n1 | sed 's/^\[slurm-local\] ERROR: //')
      echo "no real Slurm for the tests: $why${detail:+: $detail}" >"$SLURM_UNAVAILABLE"
      skip "$(cat "$SLURM_UNAVAILABLE")"
    fi
    touch "$SLURM_READY"
    note "Slurm is up: $(sinfo --noheader --format='%P %a %D %T %N' | head -n1)"
    ;;
  stop)
    rm -f "$SLURM_READY"
    bash "$SCRIPTS/slurm-stop.sh"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

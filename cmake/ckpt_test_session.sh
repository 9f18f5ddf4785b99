#!/usr/bin/env bash
# Runs one test in its own MPI session directory and removes it afterwards.
#
# usage: ckpt_test_session.sh DIR COMMAND [ARGS...]
#
# Open MPI 4.1 keeps its session directory (ompi.<host>.<uid>/, PMIx rendezvous
# files) under orte_tmpdir_base and the vader shared-memory segments
# (vader_segment.*) in btl_vader_backing_directory, by default /tmp and
# /dev/shm. A job killed with SIGKILL (as the kill/restart tests do on purpose)
# cannot remove them, so each test gets DIR for both and DIR is removed when
# the test ends, whether it passed or failed. (TMPDIR is left alone: the Slurm
# fixture starts daemons that outlive the test that starts them.) A test
# killed by ctest's timeout gets SIGKILL and cannot clean up: the cleanup
# fixture of cmake/CkptTesting.cmake removes what is left then.
set -uo pipefail
if (($# < 2)); then
  echo "usage: $0 DIR COMMAND [ARGS...]" >&2
  exit 2
fi
dir=$1
shift
rm -rf "$dir"
mkdir -p "$dir" || exit 1
# Like /tmp: tests run some programs as another user (tool_damage runs the
# tool as nobody), and Open MPI makes its ompi.<host>.<uid> directory here.
chmod 1777 "$dir"
export OMPI_MCA_orte_tmpdir_base=$dir OMPI_MCA_btl_vader_backing_directory=$dir
# libckpt's local level (local_dir = auto would be a directory of /dev/shm
# that outlives the test) is off unless the test chooses one: the tests of
# the global level's protocol see each checkpoint committed in dir when the
# call returns. The tests of the levels set CKPT_LOCAL_DIR themselves, in
# the test's directory.
export CKPT_LOCAL_DIR=${CKPT_LOCAL_DIR:-none}

trap 'rm -rf "$dir"' EXIT
"$@"

#!/usr/bin/env bash
# The Python runtime's errors under mpiexec: pieces that overlap fail on every
# rank with CKPT_ERR_MISMATCH naming the region; a restart without a
# checkpoint is CKPT_ERR_NO_CHECKPOINT; a non-contiguous array is refused;
# per-rank and global regions round-trip through checkpoint and restart.
set -euo pipefail
read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
rm -rf s && mkdir s && cd s
cat >session_test.py <<'PY'
import numpy as np
from mpi4py import MPI
import libckpt

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
with libckpt.Session(comm, {"dir": "ckpt"}) as s:
    try:
        s.restart()
        raise AssertionError("restart without a checkpoint")
    except libckpt.CkptError as e:
        assert e.status_name == "CKPT_ERR_NO_CHECKPOINT", e.status_name
    try:
        s.protect("strided", np.zeros((4, 4))[:, ::2])
        raise AssertionError("a non-contiguous array was accepted")
    except ValueError:
        pass
    bad = np.zeros((3, 4))  # every rank claims rows [2r, 2r + 3): overlaps
    s.protect("field", bad, global_shape=(2 * size + 1, 4), offset=(2 * rank, 0))
    try:
        s.checkpoint(1)
        assert size == 1, "overlapping pieces were accepted"
    except libckpt.CkptError as e:
        assert e.status_name == "CKPT_ERR_MISMATCH" and "'field'" in str(e), str(e)
    s.unprotect("field")
    good = np.arange(4.0) + 4 * rank
    counter = np.array([7], dtype=np.int32)
    s.protect("good", good, global_shape=(4 * size,), offset=(4 * rank,))
    s.protect("counter", counter)
    s.checkpoint(5)
with libckpt.Session(comm, {"dir": "ckpt"}) as s:
    back = np.zeros(4 * size) if rank == 0 else np.zeros(0)  # all on rank 0 now
    counter = np.zeros(1, dtype=np.int32)
    s.protect("good", back, global_shape=(4 * size,), offset=(0,))
    s.protect("counter", counter)
    # (the refused checkpoint used up version 1: versions number attempts)
    assert s.latest() == (2, 5), s.latest()
    assert s.restart() == (2, 5)
    assert counter[0] == 7
    if rank == 0:
        assert (back == np.arange(4.0 * size)).all(), back
print(f"rank {rank}: PASS")
PY
"${MPIEXEC[@]}" "${CKPT_MPIEXEC_NUMPROC_FLAG:--n}" 2 "$CKPT_PYTHON" session_test.py
cd .. && rm -rf s

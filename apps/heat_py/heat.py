"""heat.py: the heat example in Python (mpi4py + the libckpt package).

A 2-D Jacobi heat diffusion on an ny x nx grid, split by rows over the
ranks; the grid is a global region, so a run killed on N ranks restarts on
M. Prints `checksum <16 hex digits>` (the first 8 bytes of the SHA-256 of
the global grid, doubles, row-major) at the end.

    mpiexec -n 4 python3 heat.py --steps 100 --every 10 --dir run.ckpt
    mpiexec -n 3 python3 heat.py --steps 100 --every 10 --dir run.ckpt --restart
"""
import argparse
import hashlib
import sys
import time

import numpy as np
from mpi4py import MPI

import libckpt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nx", type=int, default=128)
    p.add_argument("--ny", type=int, default=96)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--every", "--checkpoint-every", dest="every", type=int, default=10,
                   help="checkpoint every N steps (0: never)")
    p.add_argument("--dir", default="heat_py.ckpt")
    p.add_argument("--restart", action="store_true", help="restart from the newest checkpoint")
    p.add_argument("--sleep-ms", type=float, default=0, help="sleep before each step")
    p.add_argument("--print-every", type=int, default=0, help="print `step N` every N steps")
    opts = p.parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if opts.ny < size:
        raise SystemExit(f"--ny {opts.ny} is smaller than the {size} ranks")
    row0 = opts.ny * rank // size
    rows = opts.ny * (rank + 1) // size - row0
    grid = np.zeros((rows, opts.nx))  # this rank's rows, the piece of the global grid
    step = np.zeros(1, dtype=np.int64)
    up, down = (rank - 1 if rank > 0 else MPI.PROC_NULL), (rank + 1 if rank + 1 < size else MPI.PROC_NULL)

    with libckpt.Session(comm, {"dir": opts.dir}) as session:
        session.protect("temperature", grid, global_shape=(opts.ny, opts.nx), offset=(row0, 0))
        session.protect("step", step)
        if opts.restart:
            latest = session.latest()
            if latest is None:
                raise SystemExit("--restart: no committed checkpoint in " + opts.dir)
            version, saved = session.restart()
            if rank == 0:
                print(f"restarted from version {version} at step {saved}", flush=True)
        padded = np.zeros((rows + 2, opts.nx + 2))
        padded[0, :] = 100.0 if rank == 0 else 0.0  # the hot top edge
        while step[0] < opts.steps:
            if opts.sleep_ms:
                time.sleep(opts.sleep_ms / 1000)
            padded[1:-1, 1:-1] = grid
            # Ghost rows from the neighbours (the global edges stay fixed).
            below, above = np.empty(opts.nx), np.empty(opts.nx)
            comm.Sendrecv(grid[0].copy(), dest=up, recvbuf=below, source=down)
            comm.Sendrecv(grid[-1].copy(), dest=down, recvbuf=above, source=up)
            if down != MPI.PROC_NULL:
                padded[-1, 1:-1] = below
            if up != MPI.PROC_NULL:
                padded[0, 1:-1] = above
            grid[...] = 0.25 * (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] +
                                padded[1:-1, 2:])
            step[0] += 1
            if opts.print_every and step[0] % opts.print_every == 0 and rank == 0:
                print(f"step {step[0]}", flush=True)
            if opts.every and step[0] % opts.every == 0:
                session.checkpoint(int(step[0]))
        whole = comm.gather(grid, root=0)
    if rank == 0:
        data = np.ascontiguousarray(np.concatenate(whole)).tobytes()
        print("checksum " + hashlib.sha256(data).hexdigest()[:16], flush=True)


if __name__ == "__main__":
    try:
        main()
    except libckpt.CkptError as e:
        print(f"heat.py: {e.status_name}: {e}", file=sys.stderr)
        MPI.COMM_WORLD.Abort(1)

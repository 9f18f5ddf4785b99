"""libckpt for Python: incremental checkpoint/restart of MPI programs.

Two parts:

* the runtime, over the C library (needs mpi4py and an MPI launcher)::

      from mpi4py import MPI
      import libckpt
      with libckpt.Session(MPI.COMM_WORLD, {"dir": "run.ckpt"}) as s:
          s.protect("temperature", piece, global_shape=(ny, nx), offset=(row0, 0))
          s.protect("step", step)                 # a one-element array
          if s.latest():
              s.restart()
          ...
          s.checkpoint(int(step[0]))

* a reader that needs no MPI (it runs the ``ckpt`` tool, the library's own
  chain reader, and verifies every block)::

      ckpt = libckpt.open("run.ckpt")
      for v in ckpt.versions:
          print(v.version, v.step, v.kind)
      grid = ckpt.versions[-1].region("temperature")       # the global array
      step = ckpt.region("step", rank=0)                   # newest version

Errors are :class:`CkptError` with ``status`` (the C status code) and
``status_name`` (e.g. ``"CKPT_ERR_MISMATCH"``).
"""
from ._errors import CkptError
from ._reader import Checkpoints, Version, open

__all__ = ["CkptError", "Checkpoints", "Version", "open", "Session"]


def __getattr__(name):
    # The runtime loads libckpt and MPI only when it is asked for.
    if name == "Session":
        from ._runtime import Session

        return Session
    raise AttributeError(name)

"""A reader of checkpoint directories that needs no MPI: it runs the ckpt
tool (``ckpt list``, ``ckpt extract``), the library's own chain reader, so a
region comes back rebuilt through its delta chain with every block verified."""
import json
import os
import subprocess
import tempfile

import numpy as np

from . import _paths
from ._errors import CkptError

# The tool's exit status: 1 damaged data, 2 bad input (docs/TOOL.md).
_STATUS = {1: (-7, "CKPT_ERR_CORRUPT"), 2: (-2, "CKPT_ERR_ARGUMENT")}


def _tool(*args):
    exe = os.environ.get("CKPT_TOOL", _paths.CKPT_TOOL)
    done = subprocess.run([exe, *args], capture_output=True, text=True)
    if done.returncode != 0:
        status, name = _STATUS.get(done.returncode, (-11, "CKPT_ERR_INTERNAL"))
        raise CkptError(status, name,
                        done.stderr.strip() or f"ckpt {args[0]} exited with {done.returncode}")
    return done.stdout


class Version:
    """One committed version of a checkpoint directory."""

    def __init__(self, directory, entry):
        self.directory = directory
        self.version = entry["version"]
        self.step = entry["step"]
        self.kind = entry["kind"]  # "base" or "delta"
        self.chain = entry["chain"]
        self.nranks = entry["nranks"]

    def __repr__(self):
        return (f"Version({self.version}, step={self.step}, {self.kind}, "
                f"chain={self.chain}, nranks={self.nranks})")

    def region(self, name, rank=None):
        """The region ``name`` as a NumPy array: a global region's global
        array (or, with ``rank``, that rank's piece), a per-rank region of
        ``rank``. Raises CkptError when a block does not verify."""
        with tempfile.TemporaryDirectory(prefix="libckpt-") as tmp:
            path = os.path.join(tmp, "region.npy")
            args = ["extract", self.directory, str(self.version), "--region", name, "-o", path]
            if rank is not None:
                args += ["--rank", str(rank)]
            _tool(*args)
            return np.load(path)


class Checkpoints:
    """The committed versions of a checkpoint directory, oldest first."""

    def __init__(self, directory):
        self.directory = directory
        listing = json.loads(_tool("list", directory, "--json"))
        self.versions = [Version(directory, e) for e in listing["versions"]
                         if e["state"] == "committed" and e.get("restorable", True)]

    def __repr__(self):
        return f"Checkpoints({self.directory!r}, versions={[v.version for v in self.versions]})"

    def version(self, number):
        for v in self.versions:
            if v.version == number:
                return v
        raise KeyError(f"no committed version {number} in {self.directory}")

    def region(self, name, rank=None):
        """``region`` of the newest committed version."""
        if not self.versions:
            raise CkptError(-8, "CKPT_ERR_NO_CHECKPOINT", f"no committed version in {self.directory}")
        return self.versions[-1].region(name, rank)


def open(directory):
    """The checkpoints of ``directory`` (no MPI needed)."""
    return Checkpoints(os.fspath(directory))

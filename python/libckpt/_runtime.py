"""The runtime: a session of the C library on an mpi4py communicator."""
import ctypes

import numpy as np

from . import _paths
from ._errors import CkptError

_TYPES = {
    np.dtype(np.int8): 1,
    np.dtype(np.int32): 2,
    np.dtype(np.uint32): 3,
    np.dtype(np.int64): 4,
    np.dtype(np.uint64): 5,
    np.dtype(np.float32): 6,
    np.dtype(np.float64): 7,
}
_lib = None


def _library():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(_paths.LIBCKPT, mode=ctypes.RTLD_GLOBAL)
        lib.ckpt_last_error.restype = ctypes.c_char_p
        lib.ckpt_status_name.restype = ctypes.c_char_p
        lib.ckpt_init_f.argtypes = [ctypes.c_int, ctypes.c_char_p]
        lib.ckpt_protect.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                                     ctypes.c_size_t, ctypes.c_int]
        lib.ckpt_protect_bytes.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                                           ctypes.c_size_t, ctypes.c_size_t]
        size3 = ctypes.POINTER(ctypes.c_size_t)
        lib.ckpt_protect_global.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                                            ctypes.c_int, ctypes.c_int, size3, size3, size3]
        lib.ckpt_checkpoint.argtypes = [ctypes.c_int64]
        i64 = ctypes.POINTER(ctypes.c_int64)
        lib.ckpt_restart_available.argtypes = [ctypes.POINTER(ctypes.c_int), i64, i64]
        lib.ckpt_restart.argtypes = [i64, i64]
        _lib = lib
    return _lib


def _check(rc):
    if rc != 0:
        lib = _library()
        raise CkptError(rc, lib.ckpt_status_name(rc).decode(), lib.ckpt_last_error().decode())


class Session:
    """A libckpt session on ``comm`` (an mpi4py communicator), collective.

    ``options`` are configuration keys (e.g. ``{"dir": "run.ckpt"}``), set
    as ``CKPT_<KEY>`` environment variables before initialising (the
    library's precedence then applies). One session at a time per process.
    """

    def __init__(self, comm, options=None, config_file=None):
        import os

        for key, value in (options or {}).items():
            os.environ["CKPT_" + key.upper()] = str(value)
        self._lib = _library()
        self._arrays = {}  # keeps every protected array alive
        self._ids = {}
        _check(self._lib.ckpt_init_f(comm.py2f(),
                                     config_file.encode() if config_file else None))
        self._open = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finalize()
        return False

    def _id(self, name, id):
        if id is None:
            id = self._ids.get(name, len(self._ids))
        self._ids[name] = id
        return id

    def protect(self, name, array, id=None, global_shape=None, offset=None):
        """Protects ``array`` (a C-contiguous, writable NumPy array, kept
        alive by the session). Region ids are given in the order of the
        first protect of each name unless ``id`` is passed: protect in the
        same order in every run. With ``global_shape`` and ``offset``, the
        array is this rank's piece (its shape the local dimensions) of a
        global row-major array of 1 to 3 dimensions: a job with another
        number of ranks restarts from it."""
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or \
                not array.flags.writeable:
            raise ValueError(f"protect('{name}'): a C-contiguous, writable numpy array is needed")
        region = self._id(name, id)
        ptr = array.ctypes.data if array.size else None
        if global_shape is None:
            code = _TYPES.get(array.dtype)
            if code is None:
                _check(self._lib.ckpt_protect_bytes(region, name.encode(), ptr, array.size,
                                                    array.dtype.itemsize))
            else:
                _check(self._lib.ckpt_protect(region, name.encode(), ptr, array.size, code))
        else:
            code = _TYPES.get(array.dtype)
            if code is None:
                raise ValueError(f"protect('{name}'): dtype {array.dtype} cannot be global")
            shape = tuple(int(d) for d in global_shape)
            local = array.shape if array.ndim == len(shape) else None
            if local is None or offset is None or len(offset) != len(shape):
                raise ValueError(f"protect('{name}'): array, global_shape and offset need "
                                 "the same number of dimensions")
            vec = ctypes.c_size_t * len(shape)
            _check(self._lib.ckpt_protect_global(region, name.encode(), ptr, code, len(shape),
                                                 vec(*shape), vec(*(int(o) for o in offset)),
                                                 vec(*(int(d) for d in local))))
        self._arrays[region] = array

    def unprotect(self, name):
        region = self._ids.pop(name)
        self._arrays.pop(region, None)
        _check(self._lib.ckpt_unprotect(region))

    def checkpoint(self, step):
        """Collective: a checkpoint of every protected array, labelled ``step``."""
        _check(self._lib.ckpt_checkpoint(int(step)))

    def latest(self):
        """Collective: ``(version, step)`` of the newest committed checkpoint, or None."""
        exists, version, step = ctypes.c_int(), ctypes.c_int64(), ctypes.c_int64()
        _check(self._lib.ckpt_restart_available(ctypes.byref(exists), ctypes.byref(version),
                                                ctypes.byref(step)))
        return (version.value, step.value) if exists.value else None

    def restart(self):
        """Collective: restores every protected array; returns ``(version, step)``."""
        version, step = ctypes.c_int64(), ctypes.c_int64()
        _check(self._lib.ckpt_restart(ctypes.byref(version), ctypes.byref(step)))
        return version.value, step.value

    def finalize(self):
        """Collective; idempotent."""
        if getattr(self, "_open", False):
            self._open = False
            _check(self._lib.ckpt_finalize())
            self._arrays.clear()

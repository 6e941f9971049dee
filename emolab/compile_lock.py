"""One inter-process lock around numba's first compilation of EmoLab's kernels.

The compiled kernels (:mod:`emolab.features.pitch_kernels`, :mod:`emolab.features.voice_kernels`,
:mod:`emolab.models.tree_kernel`) are cached on disk by numba (``cache=True``). The first
process to use them on a machine compiles them and writes that cache; several processes doing
so at once (ingest's workers, a parallel test run) could leave it corrupt. Each module's first
use therefore runs under :func:`compile_lock` (:func:`first_use` does it once per kernel and process);
later processes only load the cache.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def compile_lock():
    """Hold the machine-wide lock while the block runs (POSIX; elsewhere no lock)."""
    if os.name != "posix":
        yield
        return
    import fcntl

    with open(Path(tempfile.gettempdir()) / "emolab-numba-cache.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_LOADED: set = set()


def first_use(name: str, call):
    """``call()``, under :func:`compile_lock` the first time kernel ``name`` is used in this process."""
    if name in _LOADED:
        return call()
    with compile_lock():
        result = call()
    _LOADED.add(name)
    return result


def loaded(name: str) -> bool:
    """Whether kernel ``name`` has been through :func:`first_use` in this process."""
    return name in _LOADED

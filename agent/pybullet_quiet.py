"""pybullet without its build banner: `from agent.pybullet_quiet import pybullet as p` wherever pybullet is used.

The C extension prints "pybullet build time: ..." straight to the process's file descriptors when it is
first imported, past sys.stdout and sys.stderr, so every command would start with it. Here that first import
runs with descriptors 1 and 2 pointed at /dev/null (Python exceptions still propagate; only raw writes
during the import are dropped).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _fds_silenced() -> Iterator[None]:
    """Descriptors 1 and 2 go to /dev/null inside the block, C-level writes included."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # a descriptor is closed: nothing to keep clean
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        if os.name == "posix":
            ctypes.CDLL(None).fflush(None)  # a buffered C printf lands in /dev/null, not later on the terminal
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


with _fds_silenced():
    import pybullet

__all__ = ["pybullet"]

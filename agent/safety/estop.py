"""The latched e-stop: a small JSON file that survives restarts; unreadable means tripped.

Three states: tripped; reset (released, but motion waits for an explicit resume); clear. A trip
and a reset both leave `resume_needed` set, only `resume` clears it, and only when not tripped.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EstopState:
    """Whether the e-stop is tripped, whether motion waits for a resume, why, and when (wall clock)."""

    tripped: bool
    reason: str = ""
    changed_wall: float = 0.0
    resume_needed: bool = False


class EstopTripped(ValueError):
    """A resume was asked while the e-stop is tripped."""


class EstopLatch:
    """Reads and writes the e-stop file atomically; notices changes made by other processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._stamp: tuple[int, int] | None = None
        self.state = self.read()

    def read(self) -> EstopState:
        """The state on disk; a missing file is 'clear', a corrupt one is tripped (fail closed)."""
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return EstopState(False)
        except OSError as exc:
            return EstopState(True, f"e-stop file unreadable: {exc}", resume_needed=True)
        try:
            data = json.loads(raw)
            tripped = bool(data["tripped"])
            return EstopState(
                tripped,
                str(data.get("reason", "")),
                float(data.get("changed_wall", 0)),
                tripped or bool(data.get("resume_needed", False)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return EstopState(True, f"e-stop file corrupt: {exc}", resume_needed=True)

    def poll(self) -> EstopState:
        """Re-read the file when it changed on disk (cheap stat otherwise)."""
        try:
            st = os.stat(self.path)  # os.stat: a few us less than Path.stat on every command
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self.state = self.read()
        return self.state

    def write(self, tripped: bool, reason: str) -> EstopState:
        """Trip (True) or reset (False) the latch; either way motion waits for a later `resume`."""
        with self._locked():
            return self._put(EstopState(tripped, reason, time.time(), resume_needed=True))

    def resume(self, reason: str) -> EstopState:
        """Allow motion again after a reset; EstopTripped while the latch is tripped (nothing written)."""
        with self._locked():
            now = self.read()
            if now.tripped:
                raise EstopTripped(
                    f"e-stop is tripped ({now.reason}): reset it first with `amibot estop --reset --reason ...`"
                )
            return self._put(EstopState(False, reason, time.time(), resume_needed=False))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Writers take a lock file: a resume never overwrites a trip written after it read the state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _put(self, state: EstopState) -> EstopState:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fields = {"tripped": state.tripped, "reason": state.reason, "changed_wall": state.changed_wall}
        tmp.write_text(json.dumps({**fields, "resume_needed": state.resume_needed}))
        os.replace(tmp, self.path)
        self.state = state
        return state

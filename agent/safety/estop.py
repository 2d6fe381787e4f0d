"""The latched e-stop: a small JSON file that survives restarts; unreadable means tripped."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EstopState:
    """Whether the e-stop is tripped, why, and when (wall clock) it last changed."""

    tripped: bool
    reason: str = ""
    changed_wall: float = 0.0


class EstopLatch:
    """Reads and writes the e-stop file atomically; notices changes made by other processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._stamp: tuple[int, int] | None = None
        self.state = self.read()

    def read(self) -> EstopState:
        """The state on disk; a missing file is 'not tripped', a corrupt one is tripped (fail closed)."""
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return EstopState(False)
        except OSError as exc:
            return EstopState(True, f"e-stop file unreadable: {exc}")
        try:
            data = json.loads(raw)
            return EstopState(
                bool(data["tripped"]),
                str(data.get("reason", "")),
                float(data.get("changed_wall", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return EstopState(True, f"e-stop file corrupt: {exc}")

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
        """Persist a new state (atomic rename) and return it."""
        state = EstopState(tripped, reason, time.time())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"tripped": tripped, "reason": reason, "changed_wall": state.changed_wall}))
        os.replace(tmp, self.path)
        self.state = state
        return state

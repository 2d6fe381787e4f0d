"""Which repeats of a fault reach the log: every new kind at once, then at most one per interval."""

from __future__ import annotations

from collections.abc import Hashable


class FaultLog:
    """`due(key, now)` is True the first time a key is seen and then once per `every_s` seconds."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self._last: dict[Hashable, float] = {}  # keys are fault kinds (kind, servo, bits): a bounded set

    def due(self, key: Hashable, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            return False
        self._last[key] = now
        return True

"""An emulated STS3215 bus in a thread of the test process; the real SDK opens its pty."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from hardware.config import resolve
from hardware.feetech.bus import FeetechBus
from hardware.feetech.emulator import EmulatedBus, servos_from_args

LATENCY_MS = 40.0  # the emulator shares two busy cores with the tests: allow it time to answer
FOLLOWER = str(resolve("configs/hardware/calibration/so101_follower.yaml"))


@pytest.fixture
def emu() -> Iterator[EmulatedBus]:
    bus = EmulatedBus(servos_from_args(FOLLOWER, [7, 8, 9], 0.0)).start()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the SDK busy-polls the port: hand the GIL to the emulator thread quickly
    try:
        yield bus
    finally:
        sys.setswitchinterval(interval)
        bus.stop()


@pytest.fixture
def bus(emu: EmulatedBus) -> Iterator[FeetechBus]:
    with FeetechBus(emu.path, retries=2, latency_ms=LATENCY_MS) as b:
        yield b

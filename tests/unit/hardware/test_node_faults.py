"""The hardware node's fault log: every kind of bus fault of every servo is logged, repeats are rate-limited."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.resources import DATA_ROOT
from agent.runtime.config import load_config
from hardware.config import HardwareNodeConfig
from hardware.fault_log import FaultLog
from hardware.feetech.bus import BusError, FeetechBus
from hardware.feetech.calibration import load_calibration
from hardware.feetech.motors import PositionJoints, Wheels
from hardware.node import HardwareNode


def test_fault_log_says_each_new_key_at_once_then_once_per_interval() -> None:
    log = FaultLog(every_s=5.0)
    assert [log.due("a", t) for t in (0.0, 1.0, 4.9, 5.0, 6.0)] == [True, False, False, True, False]
    assert log.due("b", 6.0) and log.due(("bus", "servo_error", 2, 4), 6.0)


def test_servo_faults_are_never_lost_among_repeats(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sets = [f"publish=ipc://{tmp_path}/r.pub", f"inputs={{cmd.safe: 'ipc://{tmp_path}/f'}}"]
    node = HardwareNode(load_config(HardwareNodeConfig, DATA_ROOT / "configs/hardware/mobile_so101.yaml", sets))
    node.wheels = Wheels(FeetechBus("/dev/ttyNOPE4"), [7, 8, 9], [1, 1, 1])  # never opened: stopping fails
    silent = BusError("servo 3: no reply", kind="no_reply", servo_id=3)
    try:
        with caplog.at_level(logging.ERROR):
            for exc in [silent] * 4 + [BusError("servo 2: overload", kind="servo_error", servo_id=2, error_bits=32)]:
                node._bus_failure(exc)
            for exc in [silent] * 50 + [BusError("servo 2: overheat", kind="servo_error", servo_id=2, error_bits=4)]:
                node._bus_failure(exc)
    finally:
        node.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any("overload" in m for m in lines) and any("overheat" in m for m in lines), lines
    assert sum("no reply" in m for m in lines) == 1, lines
    assert sum("could not stop the wheels" in m for m in lines) == 1, lines
    assert node.counters["bus_errors"] == 56 and node.counters["bus_stop_failed"] == 56


def test_stop_without_a_port_answers_with_the_error(tmp_path: Path) -> None:
    sets = [f"publish=ipc://{tmp_path}/r.pub", f"inputs={{cmd.safe: 'ipc://{tmp_path}/f'}}"]
    node = HardwareNode(load_config(HardwareNodeConfig, DATA_ROOT / "configs/hardware/mobile_so101.yaml", sets))
    bus = FeetechBus("/dev/ttyNOPE4")  # the adapter is gone
    node.wheels = Wheels(bus, [7, 8, 9], [1, 1, 1])
    node.joints = PositionJoints(bus, load_calibration(DATA_ROOT / node.cfg.calibration))
    try:
        reply = node._rpc_stop({"latch": True})
    finally:
        node.close()
    assert reply["stopped"] is False and reply["latched"] is True and "/dev/ttyNOPE4" in reply["error"], reply

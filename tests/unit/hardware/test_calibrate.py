"""The calibration procedure on an emulated arm whose torque-off joints are swung 'by hand'."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

from hardware.feetech.bus import FeetechBus
from hardware.feetech.calibrate import SO101_JOINTS, calibrate
from hardware.feetech.calibration import load_calibration
from hardware.feetech.emulator import EmulatedBus, EmulatedServo
from tests.unit.hardware.conftest import LATENCY_MS


def test_calibration_records_zero_and_swept_ranges(tmp_path: Path) -> None:
    emu = EmulatedBus([EmulatedServo(i, 1500 + 100 * i, wave=300.0) for i in range(1, 7)]).start()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    prompts: list[str] = []

    def wait(prompt: str) -> None:
        prompts.append(prompt)
        if len(prompts) == 2:
            time.sleep(3.1)  # the emulated joints swing +-300 ticks with a 4 s period, as if moved by hand

    try:
        with FeetechBus(emu.path, latency_ms=LATENCY_MS) as bus:
            cal = calibrate(bus, SO101_JOINTS, list(range(1, 7)), [1, 1, -1, 1, 1, 1], wait)
    finally:
        sys.setswitchinterval(interval)
        emu.stop()
    assert len(prompts) == 2 and "zero pose" in prompts[0]
    for j in [*cal["joints"], cal["gripper"]]:
        assert abs(j["homing_offset"] - (1500 + 100 * j["id"])) < 60, j  # read right at the first prompt
        assert j["range_min"] < j["homing_offset"] - 150 and j["range_max"] > j["homing_offset"] + 150, j
    assert cal["joints"][2]["direction"] == -1 and cal["gripper_open"] != 0.0
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cal))
    loaded = load_calibration(path)
    assert [j.name for j in loaded.all_joints] == SO101_JOINTS


def test_a_joint_that_never_moved_is_named(tmp_path: Path) -> None:
    emu = EmulatedBus([EmulatedServo(1, 2048, wave=300.0), EmulatedServo(2, 2048)]).start()
    try:
        with FeetechBus(emu.path, latency_ms=LATENCY_MS) as bus:
            with pytest.raises(ValueError, match=r"joint 'gripper' \(servo 2\) hardly moved"):
                calibrate(bus, ["pan", "gripper"], [1, 2], [1, 1], lambda p: time.sleep(0.5 if "range" in p else 0))
    finally:
        emu.stop()

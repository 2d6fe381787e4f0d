"""The calibration procedure on an emulated arm whose torque-off joints are swung 'by hand'."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

from hardware.feetech.bus import FeetechBus
from hardware.feetech.calibrate import SO101_JOINTS, calibrate, joint_range
from hardware.feetech.calibration import JointCalibration, load_calibration
from hardware.feetech.emulator import EmulatedBus, EmulatedServo
from tests.unit.hardware.conftest import LATENCY_MS


def test_calibration_records_zero_and_swept_ranges(tmp_path: Path) -> None:
    home = {i: 1500 + 100 * i for i in range(1, 7)} | {5: 4000}  # wrist_roll rests near the encoder's seam
    emu = EmulatedBus([EmulatedServo(i, home[i], wave=300.0) for i in range(1, 7)]).start()
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
        zero = (home[j["id"]] - j["servo_offset"]) % 4096  # the servo's reading with its offset
        assert abs(j["homing_offset"] - zero) < 60, j  # read right at the first prompt
        assert j["range_min"] < j["homing_offset"] - 150 and j["range_max"] > j["homing_offset"] + 150, j
        assert j["range_max"] - j["range_min"] < 620, j  # the swept +-300 ticks, never 0..4095
        assert (j["servo_offset"] != 0) == (j["id"] == 5), j  # only the joint across the seam gets an offset
    assert cal["joints"][2]["direction"] == -1 and cal["gripper_open"] != 0.0
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cal))
    loaded = load_calibration(path)
    assert [j.name for j in loaded.all_joints] == SO101_JOINTS


def test_a_range_across_the_seam_is_centred_by_the_servo_offset() -> None:
    """wrist_roll swept 3700 -> 4095 -> 300 (unwrapped 3700..4396), zero at 4000."""
    j = JointCalibration(**joint_range("wrist_roll", 5, 1, 4000, 3700, 4396))
    assert (j.servo_offset, j.homing_offset, j.range_min, j.range_max) == (2000, 2000, 1710, 2386)
    assert j.to_rad(2000 + 130) == pytest.approx(0.2, abs=0.002)  # +0.20 rad past zero, not -6.08
    assert j.to_ticks(0.25) == 2000 + 163  # encoder tick (2163 + 2000) % 4096 = 67, not 4085
    with pytest.raises(ValueError, match=r"joint 'roll' \(servo 5\) swept a full turn"):
        joint_range("roll", 5, 1, 2000, -10, 4080)


def test_a_joint_that_never_moved_is_named(tmp_path: Path) -> None:
    emu = EmulatedBus([EmulatedServo(1, 2048, wave=300.0), EmulatedServo(2, 2048)]).start()
    try:
        with FeetechBus(emu.path, latency_ms=LATENCY_MS) as bus:
            with pytest.raises(ValueError, match=r"joint 'gripper' \(servo 2\) hardly moved"):
                calibrate(bus, ["pan", "gripper"], [1, 2], [1, 1], lambda p: time.sleep(0.5 if "range" in p else 0))
    finally:
        emu.stop()

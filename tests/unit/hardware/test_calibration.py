"""Register encodings and the per-joint calibration (ticks <-> radians, ranges, file errors)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from agent.runtime.config import ConfigError
from hardware.feetech import table as T
from hardware.feetech.calibration import JointCalibration, load_calibration
from tests.unit.hardware.conftest import FOLLOWER


def test_sign_magnitude_round_trip_and_error_names() -> None:
    for v in (-3400, -1, 0, 1, 2047, 3400):
        raw = T.encode_signed(v, 15)
        assert 0 <= raw < 1 << 16 and T.decode_signed(raw, 15) == v
    assert T.encode_signed(-5, 15) == 5 | 0x8000
    assert T.decode_signed(T.encode_signed(-100, 11), 11) == -100
    assert T.error_names(32 | 4) == ["overheat", "overload"]
    assert T.error_names(1 | 2) == ["voltage", "angle"]
    assert T.from_bytes(T.to_bytes(0xBEEF, 2)) == 0xBEEF


def test_ticks_radians_with_direction_and_range() -> None:
    j = JointCalibration("elbow", 3, homing_offset=2000, direction=-1, range_min=1000, range_max=3000)
    assert j.to_rad(2000) == 0.0
    assert j.to_rad(2000 + 1024) == pytest.approx(-math.pi / 2)  # a quarter turn the other way
    for rad in (-1.2, -0.3, 0.0, 0.7, 1.5):
        assert j.to_rad(j.to_ticks(rad)) == pytest.approx(rad, abs=2 * math.pi / 4096)
    assert j.to_ticks(10.0) == 1000 and j.to_ticks(-10.0) == 3000  # clipped to the calibrated range
    lo, hi = j.limits
    assert lo == pytest.approx(j.to_rad(3000)) and hi == pytest.approx(j.to_rad(1000))


def test_default_file_covers_the_robot_limits() -> None:
    from agent.robot.config import load_robot_config

    cal = load_calibration(FOLLOWER)
    robot = load_robot_config("mobile_so101")
    assert [j.name for j in cal.joints] == [j.name for j in robot.arm.joints] and cal.gripper is not None
    for j, spec in zip(cal.joints, robot.arm.joints, strict=True):
        lo, hi = j.limits
        assert lo <= spec.lower and hi >= spec.upper, j.name
    q = np.array([0.3, -0.2, 1.0, -1.0, 2.0, 0.8])
    assert np.allclose(cal.to_rad(np.asarray(cal.to_ticks(q))), q, atol=0.002)
    assert cal.gripper_opening(cal.gripper_rad(0.25)) == pytest.approx(0.25)


def test_bad_calibration_files_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="calibration file not found: .*nope.yaml"):
        load_calibration(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("joints:\n  - {name: pan, id: 1, direction: 2}\n")
    with pytest.raises(ConfigError, match="joint 'pan': direction 2"):
        load_calibration(bad)
    bad.write_text("joints:\n  - {name: pan, id: 1}\n  - {name: lift, id: 1}\n")
    with pytest.raises(ConfigError, match="servo ids used twice"):
        load_calibration(bad)
    bad.write_text("joints:\n  - {name: pan, id: 1, homing_offset: 10, range_min: 100}\n")
    with pytest.raises(ConfigError, match="homing_offset 10 outside its range"):
        load_calibration(bad)

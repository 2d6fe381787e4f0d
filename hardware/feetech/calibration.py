"""Per-joint calibration (zero tick, direction, tick range) and ticks <-> radians, from a YAML file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.runtime.config import ConfigError, from_dict, read_yaml
from hardware.feetech.table import TICKS_PER_REV

RAD_PER_TICK = 2 * math.pi / TICKS_PER_REV
MAX_SERVO_OFFSET = 2047  # the offset register: sign-magnitude, 11 bits of magnitude


@dataclass
class JointCalibration:
    """One position-mode servo: the tick reading at joint zero, direction (+1/-1), allowed tick range.

    Ticks are what the servo reports with `servo_offset` in its offset register: calibration sets that
    offset for a joint whose travel crosses the encoder's 0/4095 seam, so the range never does."""

    name: str
    id: int
    homing_offset: int = 2048  # present position [ticks] when the joint is at 0 rad
    direction: int = 1  # +1: ticks grow with the joint angle; -1: mounted the other way
    range_min: int = 0  # ticks the joint may be commanded to (measured limits, inside 0..4095)
    range_max: int = TICKS_PER_REV - 1
    servo_offset: int = 0  # the servo's offset register (ticks, -2047..2047): its reading = encoder - offset

    def check(self) -> None:
        if not 0 <= self.id <= 252:
            raise ValueError(f"joint '{self.name}': id {self.id} not in 0..252")
        if self.direction not in (1, -1):
            raise ValueError(f"joint '{self.name}': direction {self.direction} must be 1 or -1")
        if not 0 <= self.range_min < self.range_max < TICKS_PER_REV:
            raise ValueError(f"joint '{self.name}': need 0 <= range_min < range_max <= {TICKS_PER_REV - 1}")
        if not -MAX_SERVO_OFFSET <= self.servo_offset <= MAX_SERVO_OFFSET:
            raise ValueError(f"joint '{self.name}': servo_offset {self.servo_offset} not in "
                             f"{-MAX_SERVO_OFFSET}..{MAX_SERVO_OFFSET}")  # fmt: skip
        if not self.range_min <= self.homing_offset <= self.range_max:
            raise ValueError(f"joint '{self.name}': homing_offset {self.homing_offset} outside its range")

    def to_rad(self, ticks: int | float) -> float:
        return self.direction * (float(ticks) - self.homing_offset) * RAD_PER_TICK

    def to_ticks(self, rad: float) -> int:
        """Goal ticks for an angle, clipped to the calibrated range."""
        ticks = round(self.homing_offset + self.direction * rad / RAD_PER_TICK)
        return int(min(max(ticks, self.range_min), self.range_max))

    @property
    def limits(self) -> tuple[float, float]:
        """The calibrated range as (lower, upper) [rad]."""
        a, b = self.to_rad(self.range_min), self.to_rad(self.range_max)
        return (min(a, b), max(a, b))


@dataclass
class ArmCalibration:
    """A calibration file: the arm joints in order, then optionally the gripper."""

    robot: str = ""
    joints: list[JointCalibration] = field(default_factory=list)
    gripper: JointCalibration | None = None
    gripper_closed: float = 0.0  # gripper servo angle [rad] at opening 0 ...
    gripper_open: float = 1.0  # ... and at opening 1

    def check(self) -> None:
        ids = [j.id for j in self.all_joints]
        if len(set(ids)) != len(ids):
            raise ValueError(f"servo ids used twice: {ids}")
        if self.gripper is not None and self.gripper_open == self.gripper_closed:
            raise ValueError("gripper_open must differ from gripper_closed")

    @property
    def all_joints(self) -> list[JointCalibration]:
        return self.joints + ([self.gripper] if self.gripper is not None else [])

    def to_rad(self, ticks: np.ndarray) -> np.ndarray:
        """Angles [rad] of all joints (arm, then gripper) from their present ticks."""
        return np.array([j.to_rad(t) for j, t in zip(self.all_joints, ticks, strict=True)])

    def to_ticks(self, rad: np.ndarray) -> list[int]:
        return [j.to_ticks(float(r)) for j, r in zip(self.all_joints, rad, strict=True)]

    def gripper_rad(self, opening: float) -> float:
        return self.gripper_closed + float(np.clip(opening, 0.0, 1.0)) * (self.gripper_open - self.gripper_closed)

    def gripper_opening(self, rad: float) -> float:
        return float(np.clip((rad - self.gripper_closed) / (self.gripper_open - self.gripper_closed), 0.0, 1.0))


def load_calibration(path: str | Path) -> ArmCalibration:
    """Read and check a calibration file; errors name the file and the key."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"calibration file not found: {path} (see docs/hardware.md, Calibration)")
    cal = from_dict(ArmCalibration, read_yaml(path), source=str(path))
    if not cal.joints:
        raise ConfigError(f"{path}: no 'joints'")
    return cal

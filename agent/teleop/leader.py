"""Leader-arm teleop: a second servo-bus arm whose joints the follower mirrors joint to joint."""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from agent.runtime.messages import Observation
from agent.teleop.source import DeviceError, Motion
from hardware.feetech.leader import LeaderError


class LeaderArm(Protocol):
    """A leader arm driver (hardware/feetech/leader.py provides the Feetech one). A driver whose arm
    has a gripper joint may also set `gripper_range = (closed, open)` [rad] to drive the gripper."""

    def read_joint_positions(self) -> np.ndarray:
        """Joint positions [rad]: the arm joints, then the gripper joint if it has one."""
        ...

    def close(self) -> None: ...


class LeaderArmSource:
    """Follower arm targets = sign * leader + offset, clipped to the follower's joint limits."""

    def __init__(self, leader: LeaderArm, lower: list[float], upper: list[float],
                 sign: list[float] | None = None, offset: list[float] | None = None,
                 gripper_range: tuple[float, float] | None = None) -> None:  # fmt: skip
        n = len(lower)
        self.leader = leader
        self.lower, self.upper = np.asarray(lower), np.asarray(upper)
        self.sign = np.asarray(sign if sign is not None else np.ones(n))
        self.offset = np.asarray(offset if offset is not None else np.zeros(n))
        # leader gripper joint (closed, open) [rad]; by default what the driver declares, if anything
        self.gripper_range = gripper_range if gripper_range is not None else getattr(leader, "gripper_range", None)

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        q = np.asarray(self.leader.read_joint_positions(), dtype=np.float64)
        n = len(self.lower)
        arm = np.clip(self.sign * q[:n] + self.offset, self.lower, self.upper)
        grip = None
        if self.gripper_range is not None and len(q) > n:
            lo, hi = self.gripper_range
            grip = float(np.clip((q[n] - lo) / (hi - lo), 0.0, 1.0))
        return Motion(np.zeros(3), arm, grip), []

    def close(self) -> None:
        self.leader.close()


def load_driver(spec: str, **kwargs: object) -> LeaderArm:
    """Instantiate a driver named 'package.module:Class'; a driver that cannot open its arm is a DeviceError."""
    module, _, cls = spec.partition(":")
    if not cls:
        raise ValueError(f"leader driver {spec!r}: expected 'package.module:Class'")
    try:
        return getattr(importlib.import_module(module), cls)(**kwargs)
    except LeaderError as exc:
        raise DeviceError(str(exc)) from None

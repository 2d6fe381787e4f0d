"""Typed bus messages. Arrays travel as raw payload frames; scalars go in the msgpack header."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agent.runtime.schema import Message, array, scalar

# Codec-level sanity bounds. The safety node applies the robot's real limits on top.
MAX_BASE_SPEED = 5.0  # m/s or rad/s, any base velocity component
MAX_JOINT_ANGLE = 2 * math.pi  # rad
MAX_IMAGE_SIDE = 1024

HEALTH = ("starting", "ok", "degraded", "error", "stopping")
TASK_STATES = ("idle", "running", "succeeded", "failed", "aborted")
SAFETY_ACTIONS = ("pass", "clamp", "stop", "estop")


@dataclass(kw_only=True)
class Observation(Message):
    """Cameras plus proprioception from a robot backend."""

    TYPE = "observation"
    head: np.ndarray = array("uint8", (None, None, 3), max_dim=MAX_IMAGE_SIDE)  # [H, W, 3]
    wrist: np.ndarray | None = array("uint8", (None, None, 3), optional=True, max_dim=MAX_IMAGE_SIDE)
    base_pose: np.ndarray = array("float64", (3,))  # odometry x [m], y [m], yaw [rad]
    base_vel: np.ndarray = array("float64", (3,))  # vx, vy [m/s], wz [rad/s], robot frame
    arm: np.ndarray = array("float64", (None,), -MAX_JOINT_ANGLE, MAX_JOINT_ANGLE)  # joints [rad]
    arm_vel: np.ndarray = array("float64", (None,), like="arm")  # [rad/s]
    gripper: float = scalar(float, 0.0, 0.0, 1.0)  # opening, 0 closed .. 1 open
    sim_time: float = scalar(float, 0.0, 0.0)  # backend clock [s]; wall-derived on hardware
    episode: int = scalar(int, 0, 0)


@dataclass(kw_only=True)
class Command(Message):
    """A motion command: base velocity, arm joint targets, gripper; only valid until a deadline."""

    TYPE = "command"
    VERSION = 2  # 2: episode
    base_vel: np.ndarray = array("float64", (3,), -MAX_BASE_SPEED, MAX_BASE_SPEED)  # vx, vy, wz
    arm: np.ndarray = array("float64", (None,), -MAX_JOINT_ANGLE, MAX_JOINT_ANGLE)  # targets [rad]
    gripper: float = scalar(float, 0.0, 0.0, 1.0)
    valid_until: float = scalar(float, 0.0, 0.0)  # monotonic deadline [s]
    source: str = scalar(str, "")
    # The backend episode whose state this command was checked against (safety sets it from the
    # observation it used); a backend refuses a command bound to another episode. 0: unbound.
    episode: int = scalar(int, 0, 0)

    @classmethod
    def stop(cls, arm: np.ndarray, gripper: float, *, source: str, valid_until: float) -> Command:
        """Zero base velocity and hold the arm where it is."""
        return cls(
            base_vel=np.zeros(3),
            arm=np.asarray(arm, dtype=np.float64).copy(),
            gripper=gripper,
            valid_until=valid_until,
            source=source,
        )


@dataclass(kw_only=True)
class Latent(Message):
    """An encoder embedding of one observation, stamped with its source frame."""

    TYPE = "latent"
    z: np.ndarray = array("float32", (None,))  # [D]
    source_seq: int = scalar(int, 0, 0)
    source_mono: float = scalar(float, 0.0)
    model: str = scalar(str, "")


@dataclass(kw_only=True)
class Heartbeat(Message):
    """Liveness and health of a node, published at >= 10 Hz."""

    TYPE = "heartbeat"
    node: str = scalar(str, "")
    health: str = scalar(str, "ok", choices=HEALTH)
    ready: bool = scalar(bool, False)
    pid: int = scalar(int, 0, 0)
    uptime: float = scalar(float, 0.0, 0.0)
    rejected: int = scalar(int, 0, 0)


@dataclass(kw_only=True)
class SafetyEvent(Message):
    """One safety intervention: which rule, what it did, and why."""

    TYPE = "safety_event"
    rule: str = scalar(str, "")
    action: str = scalar(str, "stop", choices=SAFETY_ACTIONS)
    reason: str = scalar(str, "")
    detail: str = scalar(str, "")
    cmd_seq: int = scalar(int, 0, 0)


@dataclass(kw_only=True)
class TaskRequest(Message):
    """Ask the agent (or a backend) to run a task such as fetch(mug, to=table)."""

    TYPE = "task_request"
    task: str = scalar(str, "")
    args: dict = scalar(dict, {})
    seed: int = scalar(int, 0, 0)
    request_id: str = scalar(str, "")


@dataclass(kw_only=True)
class TaskStatus(Message):
    """Progress and outcome of a task."""

    TYPE = "task_status"
    task: str = scalar(str, "")
    state: str = scalar(str, "idle", choices=TASK_STATES)
    success: bool = scalar(bool, False)
    steps: int = scalar(int, 0, 0)
    metrics: dict = scalar(dict, {})
    message: str = scalar(str, "")
    request_id: str = scalar(str, "")


@dataclass(kw_only=True)
class Surprise(Message):
    """World-model one-step prediction error on what actually happened."""

    TYPE = "surprise"
    value: float = scalar(float, 0.0, 0.0)
    threshold: float = scalar(float, 0.0, 0.0)
    source_seq: int = scalar(int, 0, 0)


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Observation, Command, Latent, Heartbeat, SafetyEvent, TaskRequest, TaskStatus, Surprise)
}

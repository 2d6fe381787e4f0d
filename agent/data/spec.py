"""What a dataset holds, from a backend's declared features (SimWorld.features or its RPC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.data.layout import CAMERAS

# Privileged sim state a sim recording stores per frame (a training label, never a robot input).
ENV_NAMES = ("robot.x", "robot.y", "target.x", "target.y", "target.z")


@dataclass(frozen=True)
class DatasetSpec:
    """Rate, robot, proprio/action names and camera image size of a dataset."""

    fps: int
    robot_type: str
    state_names: list[str]
    action_names: list[str]
    image_shape: tuple[int, int]
    cameras: tuple[str, ...] = field(default=CAMERAS)
    env_names: tuple[str, ...] = ()  # privileged sim state (layout.ENV_STATE); () = none
    privileged_obs: bool = False  # store it as observation.environment_state, an input LeRobot policies take


def spec_from_features(
    features: dict[str, Any], robot_type: str, env_names: tuple[str, ...] = (), privileged_obs: bool = False
) -> DatasetSpec:
    """state = base pose + arm joints + gripper; action = base velocity + arm targets + gripper;
    env_names: privileged sim state recorded beside them (sim data only, for probes and tests),
    outside observation.* unless privileged_obs."""
    obs, act = features["observation"], features["action"]
    arm = list(obs["arm"]["names"])
    h, w = obs["head"]["shape"][:2]
    fps = float(features["control_hz"])
    if fps != int(fps):
        raise ValueError(f"control rate {fps} Hz: datasets need an integer fps")
    return DatasetSpec(
        fps=int(fps),
        robot_type=robot_type,
        state_names=list(obs["base_pose"]["names"]) + arm + ["gripper"],
        action_names=list(act["base_vel"]["names"]) + [f"{n}.target" for n in arm] + ["gripper"],
        image_shape=(int(h), int(w)),
        env_names=tuple(env_names),
        privileged_obs=privileged_obs,
    )


def state_vector(base_pose: np.ndarray, arm: np.ndarray, gripper: float) -> np.ndarray:
    return np.concatenate([base_pose, arm, [gripper]]).astype(np.float32)


def action_vector(base_vel: np.ndarray, arm: np.ndarray, gripper: float) -> np.ndarray:
    return np.concatenate([base_vel, arm, [gripper]]).astype(np.float32)


def split_action(action: np.ndarray, n_arm: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(base_vel[3], arm[n_arm], gripper) from an action vector."""
    a = np.asarray(action, dtype=np.float64)
    return a[:3], a[3 : 3 + n_arm], float(a[3 + n_arm])

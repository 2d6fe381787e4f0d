"""Declared observation/action features of a robot: names, shapes, dtypes, units and limits.

Built here once from the robot config, the camera image size and the control rate; the sim and the hardware
backends both serve this dict (their `features` RPC), so safety, teleop and the recorder work unchanged."""

from __future__ import annotations

from typing import Any

from agent.robot.config import RobotConfig


def robot_features(
    r: RobotConfig, image_size: tuple[int, int], control_hz: float, depth: bool = False
) -> dict[str, Any]:
    """{"observation": {...}, "action": {...}, "control_hz": hz}; `depth` adds <camera>_depth images [m]."""
    h, w = image_size
    arm_names = [j.name for j in r.arm.joints]
    img = {"shape": (h, w, 3), "dtype": "uint8", "names": ["height", "width", "rgb"], "unit": "pixel"}
    base_vel = {"shape": (3,), "dtype": "float64", "names": ["vx", "vy", "wz"], "unit": "m/s, m/s, rad/s",
                "low": [-v for v in r.base.max_vel], "high": list(r.base.max_vel)}  # fmt: skip
    arm = {"shape": (r.n_arm,), "dtype": "float64", "names": arm_names, "unit": "rad",
           "low": r.arm_lower, "high": r.arm_upper}  # fmt: skip
    gripper = {"shape": (), "dtype": "float64", "names": ["opening"], "unit": "1", "low": 0.0, "high": 1.0}
    obs: dict[str, dict[str, Any]] = {
        "head": dict(img),
        "wrist": dict(img),
        "base_pose": {"shape": (3,), "dtype": "float64", "names": ["x", "y", "yaw"], "unit": "m, m, rad"},
        "base_vel": dict(base_vel),
        "arm": dict(arm),
        "arm_vel": {"shape": (r.n_arm,), "dtype": "float64", "names": arm_names, "unit": "rad/s"},
        "gripper": dict(gripper),
        "time": {"shape": (), "dtype": "float64", "names": ["t"], "unit": "s"},
    }
    if depth:
        for cam in ("head", "wrist"):
            obs[f"{cam}_depth"] = {"shape": (h, w), "dtype": "float32", "names": ["height", "width"], "unit": "m"}
    action = {
        "base_vel": {**base_vel, "max_acc": list(r.base.max_acc)},
        "arm_targets": {**arm, "max_velocity": [j.max_velocity for j in r.arm.joints]},
        "gripper": dict(gripper),
    }
    return {"observation": obs, "action": action, "control_hz": float(control_hz)}

"""Typed robot configuration (configs/robots/<name>.yaml): base, arm joints and limits, gripper, cameras."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.resources import config_dir
from agent.runtime.config import load_config

CONFIG_DIR = config_dir("robots")


@dataclass(frozen=True)
class JointSpec:
    """One position-controlled arm joint: limits in rad, rad/s and N*m."""

    name: str
    lower: float
    upper: float
    max_velocity: float
    max_force: float


@dataclass(frozen=True)
class BaseSpec:
    """Holonomic base: velocity-commanded (vx, vy, wz in the robot frame), accel-limited."""

    urdf: str
    radius: float
    max_vel: list[float]  # [vx m/s, vy m/s, wz rad/s]
    max_acc: list[float]  # [ax m/s^2, ay m/s^2, awz rad/s^2]
    max_force: float  # N on the planar x/y joints
    max_torque: float  # N*m on the yaw joint


@dataclass(frozen=True)
class GripperSpec:
    """Parallel gripper: opening 0 (closed) .. 1 (open) maps linearly to finger joint positions."""

    joints: list[str]
    closed: list[float]
    open: list[float]
    max_force: float
    max_velocity: float
    grasp_assist: bool  # attach a fixed constraint once closing fingers touch an object


@dataclass(frozen=True)
class CameraSpec:
    """Pinhole camera rigidly attached to a link; vectors are in that link's frame."""

    link: str
    xyz: list[float]
    forward: list[float]
    up: list[float]
    fov: float
    near: float
    far: float


@dataclass(frozen=True)
class ArmSpec:
    """Arm URDF mounted on the base link, its joints, tool frame and named poses."""

    urdf: str
    mount_link: str
    mount_xyz: list[float]
    mount_rpy: list[float]
    joints: list[JointSpec]
    ee_link: str
    tcp_offset: list[float]  # tool centre point in ee_link frame
    stow: list[float]  # joint positions while driving


@dataclass(frozen=True)
class RobotConfig:
    """A mobile manipulator: base + arm + gripper + head/wrist cameras."""

    name: str
    base: BaseSpec
    arm: ArmSpec
    gripper: GripperSpec
    cameras: dict[str, CameraSpec]

    def __post_init__(self) -> None:
        n = len(self.arm.joints)
        if len(self.arm.stow) != n:
            raise ValueError(f"robot '{self.name}': arm.stow has {len(self.arm.stow)} values, expected {n}")
        for key in ("max_vel", "max_acc"):
            if len(getattr(self.base, key)) != 3:
                raise ValueError(f"robot '{self.name}': base.{key} must have 3 values [x, y, yaw]")
        if not (len(self.gripper.joints) == len(self.gripper.closed) == len(self.gripper.open)):
            raise ValueError(f"robot '{self.name}': gripper joints/closed/open lengths differ")
        if set(self.cameras) != {"head", "wrist"}:
            raise ValueError(f"robot '{self.name}': cameras must be exactly ['head', 'wrist']")

    @property
    def n_arm(self) -> int:
        """Number of arm joints (gripper excluded)."""
        return len(self.arm.joints)

    @property
    def arm_lower(self) -> list[float]:
        return [j.lower for j in self.arm.joints]

    @property
    def arm_upper(self) -> list[float]:
        return [j.upper for j in self.arm.joints]


def known_robots() -> list[str]:
    """The robot names configs/robots holds."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def robot_config_path(name_or_path: str | Path) -> Path:
    """The YAML file of a robot given by name (configs/robots/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if path.suffix == ".yaml":
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ValueError(f"unknown robot '{name_or_path}'; expected one of {known_robots()}")
    return path


def load_robot_config(name_or_path: str | Path) -> RobotConfig:
    """Load a robot config by name (configs/robots/<name>.yaml) or by path."""
    return load_config(RobotConfig, robot_config_path(name_or_path))

"""Typed safety config (configs/safety/<robot>.yaml): limits, zones, watchdog and e-stop settings.

The arm and base limits are the robot's (configs/robots/<robot>.yaml) unless the safety config sets tighter
ones; a value that loosens a robot limit is refused when the config loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.robot.config import RobotConfig, load_robot_config, robot_config_path
from agent.runtime.node import NodeConfig


@dataclass
class ArmLimits:
    """Arm joint limits [rad, rad/s, rad/s^2]; targets stay `margin` inside the position limits.
    lower, upper and max_vel left empty are the robot's; max_acc (the robot declares none) is required."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    max_vel: list[float] = field(default_factory=list)
    max_acc: list[float] = field(default_factory=list)
    margin: float = 0.05

    def check_limits(self) -> None:
        """Run once derive_limits has filled in the robot's limits."""
        n = len(self.lower)
        if n == 0 or any(len(v) != n for v in (self.upper, self.max_vel, self.max_acc)):
            raise ValueError("arm.lower, arm.upper, arm.max_vel and arm.max_acc need one value per joint")
        if any(lo + 2 * self.margin >= hi for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError("arm.lower + 2 * arm.margin must be below arm.upper for every joint")
        if min(self.max_vel + self.max_acc) <= 0 or self.margin < 0:
            raise ValueError("arm.max_vel and arm.max_acc must be > 0, arm.margin >= 0")


@dataclass
class BaseLimits:
    """Base velocity (vx, vy [m/s], wz [rad/s]) and acceleration limits, and its footprint radius [m];
    left empty (0 for the radius) they are the robot's."""

    max_vel: list[float] = field(default_factory=list)
    max_acc: list[float] = field(default_factory=list)
    radius: float = 0.0

    def check_limits(self) -> None:
        """Run once derive_limits has filled in the robot's limits."""
        if len(self.max_vel) != 3 or len(self.max_acc) != 3:
            raise ValueError("base.max_vel and base.max_acc need 3 values [x, y, yaw]")
        if min(self.max_vel + self.max_acc) <= 0 or self.radius <= 0:
            raise ValueError("base.max_vel, base.max_acc and base.radius must be > 0")


@dataclass
class SeparationConfig:
    """Speed and separation monitoring: clearance [m] where slowing starts and where motion stops."""

    slow_distance: float = 0.5  # approach speed scales linearly from full here ...
    protective_distance: float = 0.03  # ... to zero here (clearance from the base's edge)
    person_slow_distance: float = 1.5
    person_protective_distance: float = 0.5  # a person this close stops the whole base

    def check(self) -> None:
        if not 0 <= self.protective_distance < self.slow_distance:
            raise ValueError("separation: need 0 <= protective_distance < slow_distance")
        if not 0 <= self.person_protective_distance < self.person_slow_distance:
            raise ValueError("separation: need 0 <= person_protective_distance < person_slow_distance")


@dataclass
class Zone:
    """An axis-aligned box in the world frame [m] that the tool centre point must stay out of."""

    name: str
    lower: list[float]
    upper: list[float]

    def check(self) -> None:
        if (
            len(self.lower) != 3
            or len(self.upper) != 3
            or any(a >= b for a, b in zip(self.lower, self.upper, strict=True))
        ):
            raise ValueError(f"zone '{self.name}': lower/upper need 3 values each with lower < upper")


@dataclass
class WorkspaceConfig:
    """Tool-centre-point box in the base frame, and keep-out zones in the world frame."""

    lower: list[float] = field(default_factory=lambda: [-0.5, -0.5, 0.0])
    upper: list[float] = field(default_factory=lambda: [0.7, 0.5, 1.2])
    keepout: list[Zone] = field(default_factory=list)
    keepout_kinds: list[str] = field(default_factory=list)  # scene boxes of these kinds become zones
    keepout_margin: float = 0.05  # scene-derived zones are inflated by this [m]

    def check(self) -> None:
        if (
            len(self.lower) != 3
            or len(self.upper) != 3
            or any(a >= b for a, b in zip(self.lower, self.upper, strict=True))
        ):
            raise ValueError("workspace.lower/upper need 3 values each with lower < upper")


@dataclass
class CollisionConfig:
    """Static geometry and minimum distances for the next-configuration collision check."""

    robot: str = "mobile_so101"  # configs/robots/<name>.yaml: URDF for FK and collision, and the limits
    scene: str = "apartment"  # configs/scenes/<name>.yaml, with `seed`; empty = use map_file only
    seed: int = 0
    map_file: str = ""  # hardware: YAML list of {name, kind, lower, upper} static boxes
    min_distance: float = 0.01  # robot (arm) to static scene [m]
    self_min_distance: float = 0.005  # between non-adjacent robot links [m]


@dataclass
class WatchdogConfig:
    """Staleness limits [s] and the upstream nodes whose heartbeats the safety node needs."""

    cmd_max_age_s: float = 0.1  # a proposed command older than this (by its stamp) is refused
    cmd_timeout_s: float = 0.15  # no accepted command for this long -> stop
    obs_timeout_s: float = 0.3  # no robot state for this long -> stop
    peer_timeout_s: float = 0.3  # a required peer's heartbeat older than this -> stop
    require_peers: list[str] = field(default_factory=list)
    surprise_hold_s: float = 1.0  # stop this long after a surprise above its threshold

    def check(self) -> None:
        values = (self.cmd_max_age_s, self.cmd_timeout_s, self.obs_timeout_s, self.peer_timeout_s)
        if min(values) <= 0 or self.surprise_hold_s < 0:
            raise ValueError("watchdog timeouts must be > 0")


@dataclass
class SafetyConfig(NodeConfig):
    """The safety node: reads cmd.proposed, obs (+ optional surprise), publishes cmd.safe."""

    name: str = "safety"
    control_hz: float = 10.0  # backend control rate: one command is applied for 1/control_hz
    command_ttl_s: float = 0.2  # cmd.safe valid_until = min(proposed, now + this)
    proposed_topic: str = "cmd.proposed"
    obs_topic: str = "obs"
    surprise_topic: str = "surprise"
    output_topic: str = "cmd.safe"
    events_topic: str = "safety_events"
    accept_sources: list[str] = field(default_factory=list)  # empty = any source
    gripper_lower: float = 0.0
    gripper_upper: float = 1.0
    arm: ArmLimits = field(default_factory=ArmLimits)
    base: BaseLimits = field(default_factory=BaseLimits)
    separation: SeparationConfig = field(default_factory=SeparationConfig)
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    collision: CollisionConfig = field(default_factory=CollisionConfig)
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    estop_file: str = "~/.amibot/estop.json"
    event_log: str = ""  # JSONL file that gets every SafetyEvent (for `amibot safety events`)
    backend_rpc: str = ""  # sim: follow its `scene` rpc per episode (commands stop until known)

    def check(self) -> None:
        super().check()
        for key in ("proposed_topic", "obs_topic"):
            if getattr(self, key) not in self.inputs:
                raise ValueError(f"key '{key}' = {getattr(self, key)!r} is not in 'inputs' {sorted(self.inputs)}")
        if self.control_hz <= 0 or self.command_ttl_s <= 0:
            raise ValueError("key 'control_hz' and 'command_ttl_s' must be > 0")
        if not 0 <= self.gripper_lower < self.gripper_upper <= 1:
            raise ValueError("need 0 <= gripper_lower < gripper_upper <= 1")
        derive_limits(self, load_robot_config(self.collision.robot))
        self.arm.check_limits()
        self.base.check_limits()
        for part in (self.separation, self.workspace, self.watchdog):
            part.check()
        for zone in self.workspace.keepout:
            zone.check()

    @property
    def dt(self) -> float:
        return 1.0 / self.control_hz


def derive_limits(cfg: SafetyConfig, robot: RobotConfig) -> None:
    """Fill the arm and base limits cfg leaves empty from the robot's; refuse any that loosens the robot's."""
    parts = {"arm": cfg.arm, "base": cfg.base}
    robot_limits = {  # key: (robot's values, +1: a safety value may not be above it, -1: not below)
        "arm.lower": (robot.arm_lower, -1),
        "arm.upper": (robot.arm_upper, 1),
        "arm.max_vel": ([j.max_velocity for j in robot.arm.joints], 1),
        "base.max_vel": (list(robot.base.max_vel), 1),
        "base.max_acc": (list(robot.base.max_acc), 1),
    }
    source = f"robot '{robot.name}' ({robot_config_path(cfg.collision.robot)})"
    for key, (limit, sign) in robot_limits.items():
        part, name = key.split(".")
        values = getattr(parts[part], name)
        if not values:
            setattr(parts[part], name, list(limit))
            continue
        if len(values) != len(limit):
            raise ValueError(f"key '{key}' has {len(values)} values, {source} has {len(limit)}")
        for i, (v, lim) in enumerate(zip(values, limit, strict=True)):
            if sign * (v - lim) > 1e-9:
                raise ValueError(f"key '{key}[{i}]' = {v} loosens the limit {lim} of {source}: it may only tighten it")
    if not cfg.base.radius:
        cfg.base.radius = robot.base.radius
    elif cfg.base.radius < robot.base.radius:
        raise ValueError(f"key 'base.radius' = {cfg.base.radius} is below the radius {robot.base.radius} of {source}")
    if len(cfg.arm.max_acc) != robot.n_arm:
        raise ValueError(f"key 'arm.max_acc' has {len(cfg.arm.max_acc)} values, {source} has {robot.n_arm} arm joints")

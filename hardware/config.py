"""Typed config of the hardware backend node (configs/hardware/<robot>.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.resources import resolve as resolve  # hardware.node and feetech.leader use it from here
from agent.runtime.node import NodeConfig
from hardware.cameras import CameraConfig


@dataclass
class BusConfig:
    """The servo bus adapter: a serial port (/dev/ttyACM0, /dev/serial/by-id/..., or an emulator's pty)."""

    port: str = "/dev/ttyACM0"
    baudrate: int = 1_000_000
    retries: int = 2  # extra tries of a transaction after no reply / a corrupt reply
    latency_ms: float = 16.0  # USB-serial latency timer (FTDI/CH340 default 16); replies awaited 2 x this + 2 ms


@dataclass
class BaseConfig:
    """Three omniwheels in wheel mode on the same bus as the arm."""

    wheel_ids: list[int] = field(default_factory=lambda: [7, 8, 9])
    wheel_directions: list[int] = field(default_factory=lambda: [1, 1, 1])  # -1: wheel mounted reversed
    wheel_angles_deg: list[float] = field(default_factory=lambda: [90.0, 210.0, 330.0])  # from robot +x, CCW
    base_radius: float = 0.125  # centre to wheel contact [m]
    wheel_radius: float = 0.05  # [m]
    acceleration: int = 100  # servo acceleration register (x100 steps/s^2); 0 = as fast as it can

    def check(self) -> None:
        n = len(self.wheel_ids)
        if n != 3 or len(self.wheel_directions) != n or len(self.wheel_angles_deg) != n:
            raise ValueError("base: wheel_ids, wheel_directions and wheel_angles_deg need 3 values each")
        if self.base_radius <= 0 or self.wheel_radius <= 0 or not 0 <= self.acceleration <= 254:
            raise ValueError("base: base_radius and wheel_radius must be > 0, acceleration in 0..254")


@dataclass
class HardwareNodeConfig(NodeConfig):
    """Parameters of the hardware backend; see configs/hardware/mobile_so101.yaml."""

    name: str = "robot"
    robot: str = "mobile_so101"  # configs/robots/<name>.yaml: joint names and limits (declared features)
    bus: BusConfig = field(default_factory=BusConfig)
    calibration: str = "configs/hardware/calibration/so101_follower.yaml"  # arm joints + gripper
    arm_acceleration: int = 0  # servo acceleration register for the arm joints (0 = maximum)
    base: BaseConfig = field(default_factory=BaseConfig)
    cameras: dict[str, CameraConfig] = field(default_factory=lambda: {"head": CameraConfig(), "wrist": CameraConfig()})
    image_size: list[int] = field(default_factory=lambda: [64, 64])
    control_hz: float = 10.0
    command_topic: str = "cmd.safe"  # the only topic commands are accepted from
    accept_sources: list[str] = field(default_factory=list)  # Command.source allow-list; empty = any
    deadman_s: float = 0.25  # no fresh valid command this long -> wheels to zero speed, arm holds
    release_torque_on_stop: bool = False  # teardown: False keeps the arm holding, True lets it go limp
    emulate: bool = False  # start hardware.feetech.emulator on a pty and use it instead of bus.port
    max_bus_errors: int = 10  # consecutive failed ticks before health turns 'error'

    def check(self) -> None:
        super().check()
        if self.command_topic not in self.inputs:
            raise ValueError(f"key 'command_topic' = {self.command_topic!r} is not in 'inputs' {sorted(self.inputs)}")
        if set(self.cameras) != {"head", "wrist"}:
            raise ValueError(f"key 'cameras' = {sorted(self.cameras)}: expected exactly 'head' and 'wrist'")
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise ValueError(f"key 'image_size' = {self.image_size}: expected [height, width], each >= 8")
        if self.control_hz <= 0 or self.deadman_s <= 0:
            raise ValueError("keys 'control_hz' and 'deadman_s' must be > 0")
        if not 0 <= self.arm_acceleration <= 254:
            raise ValueError(f"key 'arm_acceleration' = {self.arm_acceleration}: expected 0..254")

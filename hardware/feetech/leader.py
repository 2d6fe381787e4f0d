"""Leader arm for teleop: a second STS3215 arm on its own bus, torque off, read joint to joint."""

from __future__ import annotations

import numpy as np

from agent.runtime.config import ConfigError
from hardware.config import resolve
from hardware.feetech import table as T
from hardware.feetech.bus import BusError, FeetechBus
from hardware.feetech.calibration import load_calibration
from hardware.feetech.emulator import EmulatorProcess
from hardware.feetech.motors import PositionJoints, set_eeprom

LEADER_CALIBRATION = "configs/hardware/calibration/so101_leader.yaml"


class LeaderError(RuntimeError):
    """The leader arm cannot be used (no port, bus error, bad calibration); the message says which."""


class FeetechLeader:
    """A leader arm on a Feetech bus: reads the arm joints, then the gripper [rad]; errors are LeaderError."""

    def __init__(self, port: str = "", calibration: str = LEADER_CALIBRATION, baudrate: int = 1_000_000,
                 retries: int = 2, latency_ms: float = 16.0, emulate: bool = False) -> None:  # fmt: skip
        self.emulator: EmulatorProcess | None = None
        self.bus: FeetechBus | None = None
        self.gripper_range: tuple[float, float] | None = None
        try:
            cal_path = resolve(calibration)
            cal = load_calibration(cal_path)
            if emulate:  # torque-off servos that swing slowly, as if a hand moved the leader
                self.emulator = EmulatorProcess(str(cal_path), wave=200.0)
                port, latency_ms = self.emulator.path, max(latency_ms, 50.0)
            if not port:
                raise LeaderError("leader arm: no serial port; set teleop.leader_args.port (or emulate: true)")
            self.bus = FeetechBus(port, baudrate, retries, latency_ms).open()
            for j in cal.all_joints:
                self.bus.ping(j.id)
                set_eeprom(self.bus, j.id, T.HOMING_OFFSET, j.servo_offset)  # readings in the file's frame
            self.joints = PositionJoints(self.bus, cal)
            # (closed, open) angle of the gripper joint: LeaderArmSource maps it to the follower's opening
            self.gripper_range = (cal.gripper_closed, cal.gripper_open) if cal.gripper is not None else None
            self.joints.torque(False)  # moved by hand
        except (BusError, ConfigError) as exc:
            self.close()
            raise LeaderError(f"leader arm: {exc}") from None
        except BaseException:
            self.close()
            raise

    def read_joint_positions(self) -> np.ndarray:
        q, _ = self.joints.read()
        return q

    def close(self) -> None:
        if self.bus is not None:
            self.bus.close()
            self.bus = None
        if self.emulator is not None:
            self.emulator.close()
            self.emulator = None

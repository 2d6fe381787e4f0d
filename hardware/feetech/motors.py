"""Groups of servos on one bus: calibrated position-mode joints (arm, gripper) and wheel-mode wheels."""

from __future__ import annotations

import math

import numpy as np

from hardware.feetech import table as T
from hardware.feetech.bus import FeetechBus
from hardware.feetech.calibration import RAD_PER_TICK, ArmCalibration


def set_eeprom(bus: FeetechBus, servo_id: int, reg: T.Register, value: int) -> None:
    """An EEPROM register (mode, offset): written with torque off and unlocked, only when it differs."""
    if bus.read(servo_id, reg) == value:
        return
    bus.write(servo_id, T.TORQUE_ENABLE, 0)
    bus.write(servo_id, T.LOCK, 0)
    bus.write(servo_id, reg, value)
    bus.write(servo_id, T.LOCK, 1)
    if bus.read(servo_id, reg) != value:
        raise RuntimeError(f"{bus.port_name}: servo {servo_id}: register {reg[0]} stays {bus.read(servo_id, reg)}, "
                           f"not {value}")  # fmt: skip


def set_mode(bus: FeetechBus, servo_id: int, mode: int) -> None:
    """Operating mode lives in EEPROM."""
    set_eeprom(bus, servo_id, T.MODE, mode)


class PositionJoints:
    """Position-mode servos with a calibration: angles in radians, goals clipped to the calibrated range."""

    def __init__(self, bus: FeetechBus, calibration: ArmCalibration, acceleration: int = 0) -> None:
        self.bus = bus
        self.cal = calibration
        self.joints = calibration.all_joints
        self.ids = [j.id for j in self.joints]
        self.acceleration = acceleration

    def connect(self) -> None:
        """Ping every servo, position mode and the calibration's servo offset, then, only if every joint is
        inside its calibrated range: goal = present position (no jump) and torque on. Nothing moves."""
        for j in self.joints:
            model = self.bus.ping(j.id)
            if model != T.MODEL_STS3215:
                raise RuntimeError(f"{self.bus.port_name}: servo {j.id} ({j.name}) is model {model}, "
                                   f"expected STS3215 ({T.MODEL_STS3215})")  # fmt: skip
            set_mode(self.bus, j.id, T.MODE_POSITION)
            set_eeprom(self.bus, j.id, T.HOMING_OFFSET, j.servo_offset)
        present = self.bus.sync_read(T.PRESENT_POSITION, self.ids)
        outside = [f"'{j.name}' (servo {j.id}) at tick {present[j.id]}, range {j.range_min}..{j.range_max}"
                   for j in self.joints if not j.range_min <= present[j.id] <= j.range_max]  # fmt: skip
        if outside:
            raise RuntimeError(f"{self.bus.port_name}: joints outside their calibrated range: {'; '.join(outside)}. "
                               "Torque stays off: move them into range by hand, or recalibrate")  # fmt: skip
        self.bus.sync_write(T.GOAL_POSITION, present)
        self.bus.sync_write(T.ACCELERATION, {i: self.acceleration for i in self.ids})
        self.torque(True)

    def torque(self, on: bool) -> None:
        self.bus.sync_write(T.TORQUE_ENABLE, {i: int(on) for i in self.ids})

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions [rad] and velocities [rad/s] of all joints (arm, then gripper): one sync read."""
        raw = self.bus.sync_read((T.PRESENT_POSITION[0], 4), self.ids)  # position and speed, 2 bytes each
        ticks = [T.decode(T.PRESENT_POSITION, raw[i] & 0xFFFF) for i in self.ids]
        speed = [T.decode(T.PRESENT_SPEED, raw[i] >> 16) for i in self.ids]
        q = self.cal.to_rad(np.asarray(ticks))
        dq = np.array([j.direction * s * RAD_PER_TICK for j, s in zip(self.joints, speed, strict=True)])
        return q, dq

    def write(self, q: np.ndarray) -> np.ndarray:
        """Goal positions [rad] for all joints; returns what was sent after clipping to the ranges."""
        ticks = self.cal.to_ticks(q)
        self.bus.sync_write(T.GOAL_POSITION, dict(zip(self.ids, ticks, strict=True)))
        return self.cal.to_rad(np.asarray(ticks))


class Wheels:
    """Wheel-mode servos: angular speeds [rad/s] with a mounting direction per wheel."""

    def __init__(self, bus: FeetechBus, ids: list[int], directions: list[int], acceleration: int = 0) -> None:
        self.bus = bus
        self.ids = list(ids)
        self.directions = np.asarray(directions, dtype=float)
        self.acceleration = acceleration
        self.max_speed = T.MAX_SPEED_STEPS * 2 * math.pi / T.TICKS_PER_REV  # rad/s

    def connect(self) -> None:
        for i in self.ids:
            self.bus.ping(i)
            set_mode(self.bus, i, T.MODE_WHEEL)
        self.stop()
        self.bus.sync_write(T.ACCELERATION, {i: self.acceleration for i in self.ids})
        self.bus.sync_write(T.TORQUE_ENABLE, {i: 1 for i in self.ids})

    def read(self) -> np.ndarray:
        raw = self.bus.sync_read(T.PRESENT_SPEED, self.ids)
        steps = np.array([raw[i] for i in self.ids], dtype=float)
        return self.directions * steps * 2 * math.pi / T.TICKS_PER_REV

    def write(self, w: np.ndarray) -> np.ndarray:
        """Wheel speeds [rad/s]; above the servo's maximum all three are scaled down by the same factor
        (the base keeps the commanded direction and curvature, only slower). Returns what was sent."""
        w = np.asarray(w, dtype=float)
        peak = float(np.abs(w).max(initial=0.0))
        if peak > self.max_speed:
            w = w * (self.max_speed / peak)
        steps = np.round(w * self.directions * T.TICKS_PER_REV / (2 * math.pi)).astype(int)
        self.bus.sync_write(T.GOAL_SPEED, {i: int(s) for i, s in zip(self.ids, steps, strict=True)})
        return self.directions * steps * 2 * math.pi / T.TICKS_PER_REV

    def stop(self) -> None:
        self.bus.sync_write(T.GOAL_SPEED, {i: 0 for i in self.ids})

    def torque(self, on: bool) -> None:
        self.bus.sync_write(T.TORQUE_ENABLE, {i: int(on) for i in self.ids})

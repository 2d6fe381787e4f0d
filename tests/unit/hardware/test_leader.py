"""The Feetech leader arm driver on the emulated bus, and teleop's use of it (agent.teleop.leader)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from agent.teleop.leader import LeaderArmSource, load_driver
from agent.teleop.source import DeviceError
from hardware.config import resolve
from hardware.feetech import table as T
from hardware.feetech.calibration import load_calibration
from hardware.feetech.emulator import EmulatedBus
from hardware.feetech.leader import LEADER_CALIBRATION, FeetechLeader, LeaderError
from tests.unit.hardware.conftest import LATENCY_MS


def test_leader_reads_joint_angles_with_torque_off(emu: EmulatedBus) -> None:
    with emu.lock:
        for s in emu.servos.values():
            s.set(T.TORQUE_ENABLE, 1)
        for i, ticks in ((1, 2048 + 512), (6, 2048 + 300)):  # the shoulder turned an eighth of a turn
            emu.servos[i].pos = ticks
            emu.servos[i].set(T.GOAL_POSITION, ticks)
    leader = load_driver("hardware.feetech.leader:FeetechLeader", port=emu.path, latency_ms=LATENCY_MS)
    try:
        time.sleep(0.05)  # a sync write has no reply: give the emulator a moment to apply it
        with emu.lock:
            assert all(emu.servos[i].get(T.TORQUE_ENABLE) == 0 for i in range(1, 7))  # moved by hand
        q = leader.read_joint_positions()
        cal = load_calibration(resolve(LEADER_CALIBRATION))
        assert (
            q.shape == (6,) and q[0] == pytest.approx(cal.joints[0].to_rad(2560)) and q[0] == pytest.approx(np.pi / 4)
        )
        source = LeaderArmSource(leader, [-1.92] * 5, [1.92] * 5)
        motion, events = source.poll(None)
        assert motion is not None and not events and motion.arm[0] == pytest.approx(np.pi / 4)
        # the leader's gripper joint (300 ticks open of a 0..1.6 rad range) drives the follower's opening
        assert leader.gripper_range == (cal.gripper_closed, cal.gripper_open)
        assert motion.gripper == pytest.approx(cal.gripper.to_rad(2348) / cal.gripper_open)
    finally:
        leader.close()


def test_leader_errors_name_the_cause_and_teleop_reports_them_as_device_errors() -> None:
    with pytest.raises(LeaderError, match="serial port /dev/ttyNOPE1 does not exist"):
        FeetechLeader(port="/dev/ttyNOPE1")
    with pytest.raises(LeaderError, match="no serial port"):
        FeetechLeader()
    with pytest.raises(LeaderError, match="calibration file not found"):
        FeetechLeader(port="/dev/null", calibration="/nonexistent/leader.yaml")
    with pytest.raises(DeviceError, match="no serial port"):  # what the teleop node logs before it exits
        load_driver("hardware.feetech.leader:FeetechLeader")

"""Teleop sources without a sim: keyboard through a pty, leader-arm mirroring, command files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from agent.runtime.messages import Observation
from agent.teleop.keyboard import KeyboardSource
from agent.teleop.leader import LeaderArmSource
from agent.teleop.scripted import FileSource
from agent.teleop.source import ESTOP, NEXT, QUIT, RERECORD


def _obs() -> Observation:
    z = np.zeros(3)
    return Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=z, base_vel=z, arm=z,
                       arm_vel=z, gripper=1.0)  # fmt: skip


def test_keyboard_through_pty() -> None:
    master, slave = os.openpty()
    try:
        src = KeyboardSource(os.ttyname(slave), [0.4, 0.4, 1.2], joint_step=0.1, hold_s=10.0)
        os.read(master, 4096)  # the help text
        os.write(master, b"wq2iic")
        motion, events = src.poll(_obs())
        assert motion is not None and events == []
        np.testing.assert_allclose(motion.base_vel, [0.4, 0.0, 1.2])
        np.testing.assert_allclose(motion.arm, [0.0, 0.2, 0.0])
        assert motion.gripper == 0.0
        os.write(master, b" nrx\x1b")
        motion, events = src.poll(_obs())
        np.testing.assert_allclose(motion.base_vel, 0.0)
        assert events == [NEXT, RERECORD, ESTOP, QUIT]
        src.close()
    finally:
        os.close(master)
        os.close(slave)


def test_keyboard_key_release_times_out() -> None:
    master, slave = os.openpty()
    try:
        src = KeyboardSource(os.ttyname(slave), [0.4, 0.4, 1.2], hold_s=0.05)
        os.write(master, b"w")
        assert src.poll(_obs())[0].base_vel[0] == 0.4
        time.sleep(0.1)
        assert src.poll(_obs())[0].base_vel[0] == 0.0  # no auto-repeat: the key was released
        src.close()
    finally:
        os.close(master)
        os.close(slave)


class FakeLeader:
    def __init__(self) -> None:
        self.q = np.array([0.5, -3.0, 0.1, 0.02])
        self.closed = False

    def read_joint_positions(self) -> np.ndarray:
        return self.q

    def close(self) -> None:
        self.closed = True


def test_leader_mirrors_joints_within_limits() -> None:
    leader = FakeLeader()
    src = LeaderArmSource(leader, [-1, -1, -1], [1, 1, 1], sign=[1, 1, -1],
                          offset=[0.1, 0, 0], gripper_range=(0.0, 0.04))  # fmt: skip
    motion, events = src.poll(None)
    assert motion is not None and events == []
    np.testing.assert_allclose(motion.arm, [0.6, -1.0, -0.1])
    assert motion.gripper == 0.5
    src.close()
    assert leader.closed


def test_file_source_plays_then_quits(tmp_path: Path) -> None:
    path = tmp_path / "cmds.jsonl"
    path.write_text("\n".join(json.dumps({"base_vel": [0.1, 0, 0], "gripper": g}) for g in (0, 1)))
    src = FileSource(path)
    assert src.poll(None) == (None, [])
    assert [src.poll(_obs())[0].gripper for _ in range(2)] == [0, 1]
    assert src.poll(_obs()) == (None, [QUIT])

"""Keyboard teleop through a pty drives the sim; 'n' saves the episode, Esc ends the session."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from agent.data.reader import Dataset
from agent.data.validate import validate
from tests.integration.procs import REPO, LaunchRun

LAUNCH = REPO / "launch" / "teleop_record.yaml"


def test_keyboard_drives_and_records(tmp_path: Path) -> None:
    master, slave = os.openpty()
    root = tmp_path / "ds"
    params = [f"teleop.tty={os.ttyname(slave)}", "teleop.sim_task=pick", "sim.task=pick",
              f"recorder.root={root}", "teleop.task=drive forward"]  # fmt: skip
    run = LaunchRun(LAUNCH, *params)
    try:
        run.wait_for(r"graph 'teleop_record' up", timeout=90)
        run.wait_for(r"recorder: episode \d+: recording", timeout=30)
        for _ in range(25):  # hold 'w' like terminal auto-repeat, then turn left with 'q'
            os.write(master, b"w")
            time.sleep(0.05)
        for _ in range(10):
            os.write(master, b"q")
            time.sleep(0.05)
        os.write(master, b"n")
        run.wait_for(r"recorder: saved episode 0 ", timeout=30)
        os.write(master, b"\x1b")
        assert run.wait(timeout=30) == 0
    finally:
        run.kill()
        os.close(master)
        os.close(slave)
    validate(root)
    ep = Dataset(root).episode(0)
    state, action = ep["observation.state"], ep["action"]
    assert action[:, 0].max() > 0.3  # 'w' commanded forward speed
    assert action[:, 2].max() > 1.0  # 'q' commanded a left turn
    moved = np.linalg.norm(state[-1, :2] - state[0, :2])
    turned = abs(state[-1, 2] - state[0, 2])
    assert moved > 0.1 and turned > 0.1, (moved, turned)

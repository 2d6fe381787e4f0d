"""`amibot teleop --backend robot --emulate --device file --record DIR`: the whole graph with no robot."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from agent.data.reader import Dataset
from agent.data.validate import validate
from agent.runtime.bus import RpcClient
from tests.integration.procs import REPO, wait_gone

SCRIPT = REPO / "tests" / "fixtures" / "robot_drive.jsonl"  # 6 s: forward 3 s, pan the shoulder, close the gripper


def test_teleop_drives_the_emulated_robot_and_records(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    args = [
        sys.executable,
        "-m",
        "agent.cli",
        "teleop",
        "--backend",
        "robot",
        "--emulate",
        "--device",
        "file",
        "--script-file",
        str(SCRIPT),
        "--record",
        str(root),
        "--task",
        "drive and pan",
        "--set",
        f"safety.estop_file={tmp_path}/estop.json",
        "--set",
        f"safety.event_log={tmp_path}/events.jsonl",
    ]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(x.rstrip() for x in proc.stdout), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("recorder: episode" in x for x in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
        time.sleep(4.5)  # most of the script has played
        recorder = RpcClient(f"ipc:///tmp/amibot-teleop_robot-{proc.pid}/recorder.rpc")
        try:  # what the 'n' key does: save the episode
            assert recorder.call("save", {"success": True}, timeout=10.0)["episode"] == 0
        finally:
            recorder.close()
        assert proc.wait(timeout=30) == 0, "\n".join(lines)  # the file ends: teleop quits, the graph ends
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    text = "\n".join(lines)
    assert "EMULATED robot" in text and "saved episode 0" in text, text
    pids = [int(m.group(1)) for x in lines if (m := re.search(r"started \S+ \(pid (\d+)\)", x))]
    assert len(pids) == 4 and not wait_gone(pids, timeout=5), text  # robot, safety, recorder, teleop
    validate(root)
    ep = Dataset(root).episode(0)
    state, action = ep["observation.state"], ep["action"]  # state: x, y, yaw, 5 joints, gripper
    assert action[:, 0].max() > 0.15 and state[-1, 0] - state[0, 0] > 0.2, state[:, 0]  # drove forward
    assert state[:, 3].max() > 0.4, state[:, 3]  # the shoulder panned, through safety and the servo bus
    assert np.all(np.abs(state[:, 4:8]) < 0.05)

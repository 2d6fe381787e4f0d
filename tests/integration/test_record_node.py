"""The recorder node in a real graph: scripted teleop records episodes; SIGKILL keeps saved ones."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from agent.data.reader import Dataset
from agent.data.validate import validate
from tests.integration.procs import REPO, LaunchRun, alive, wait_gone

LAUNCH = REPO / "launch" / "teleop_record.yaml"


def test_recorder_sigkill_mid_episode_keeps_saved_episodes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    run = LaunchRun(LAUNCH, "teleop.device=script", "teleop.auto_next=true", "teleop.sim_task=pick",
                    "sim.task=pick", "sim.mode=lockstep", f"recorder.root={root}",
                    "teleop.task=pick up the object")  # fmt: skip
    try:
        run.wait_for(r"recorder: saved episode 1 ", timeout=120)
        run.wait_for(r"recorder: episode \d+: recording", timeout=30)  # the next one is under way
        pid = run.pids()["recorder"]
        os.kill(pid, signal.SIGKILL)
        assert wait_gone([pid]) == []
        run.proc.send_signal(signal.SIGINT)
        run.wait(timeout=30)
    finally:
        run.kill()
    assert not [p for p in run.pids().values() if alive(p)]
    summary = validate(root)
    assert summary["episodes"] >= 2
    ds = Dataset(root)
    assert all(e["success"] and e["tasks"] == ["pick up the object"] for e in ds.episodes)
    assert ds.episode(0)["meta"]["seed"] == 0 and ds.episodes[1]["seed"] == 1

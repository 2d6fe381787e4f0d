"""The recorder node in a real graph: scripted teleop records episodes; the recorder SIGKILLed mid-episode
and restarted on the same dataset (as the launcher's restart policy does) keeps every saved episode, drops
the unfinished one and appends the next ones. The graph runs with CurveZMQ on, so the teleop and recorder
rpc clients use the graph's keys."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import yaml

from agent import cli
from agent.data.reader import Dataset
from agent.data.validate import validate
from tests.integration.procs import REPO, LaunchRun, alive, wait_gone

LAUNCH = REPO / "launch" / "teleop_record.yaml"


def test_recorder_killed_mid_episode_resumes_the_dataset(tmp_path: Path, runs: list[LaunchRun]) -> None:
    root, keys = tmp_path / "ds", tmp_path / "keys"
    assert cli.main(["keys", "sim", "safety", "teleop", "recorder", "launcher", "--dir", str(keys)]) == 0
    graph = yaml.safe_load(LAUNCH.read_text())
    graph["security"] = {"keys_dir": str(keys)}
    recorder = next(n for n in graph["nodes"] if n["name"] == "recorder")
    recorder.update(required=False, restart={"policy": "on-failure", "max_restarts": 1, "backoff_s": 0.1})
    (tmp_path / "teleop_record.yaml").write_text(yaml.safe_dump(graph))
    run = LaunchRun(tmp_path / "teleop_record.yaml", "teleop.device=script", "teleop.auto_next=true",
                    "teleop.rate_hz=30", "teleop.sim_task=pick", "sim.task=pick", "sim.mode=lockstep",
                    f"recorder.root={root}", "teleop.task=pick up the object",
                    f"safety.estop_file={tmp_path / 'estop.json'}",
                    f"safety.event_log={tmp_path / 'events.jsonl'}")  # fmt: skip
    runs.append(run)
    run.wait_for(r"recorder: saved episode 0 ", timeout=120)
    run.wait_for(r"recorder: episode 3: recording", timeout=30)  # the next one (backend episode 3) is under way
    pid = run.pids()["recorder"]
    os.kill(pid, signal.SIGKILL)
    assert wait_gone([pid]) == []
    assert validate(root)["episodes"] == 1  # the unfinished episode is not part of the dataset
    run.wait_for(r"restarting recorder")
    run.wait_for(r"recorder: saved episode 1 ", timeout=120)  # the restarted recorder appends
    run.proc.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 0, run.text
    assert not [p for p in run.pids().values() if alive(p)]
    assert validate(root)["episodes"] >= 2
    ds = Dataset(root)
    assert all(e["success"] and e["tasks"] == ["pick up the object"] for e in ds.episodes)
    assert [e["seed"] for e in ds.episodes[:2]] == [0, 2]  # seed 1 was the episode the kill cut short
    assert len(ds.frames("observation.images.head", 1)) == ds.episodes[1]["length"]
    assert not (root / ".staging").exists()

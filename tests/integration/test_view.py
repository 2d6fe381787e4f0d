"""`amibot launch launch/sim_fetch.yaml --view-save FILE.rrd` on a short navigate episode; the recording
read back with rerun's reader has every stream at the times of the observations it came from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.view.readback import entity_times
from tests.integration.procs import REPO

OBS_ENTITIES = ("/camera/head", "/camera/wrist", "/state/arm", "/state/gripper", "/state/base_vel", "/map/robot")


def test_a_saved_view_has_every_stream_at_the_sim_times_of_its_observations(tmp_path: Path) -> None:
    out = tmp_path / "view.rrd"
    args = [sys.executable, "-m", "agent.cli", "launch", str(REPO / "launch/sim_fetch.yaml"), "--view-save", str(out)]
    for item in (
        "sim.task=navigate",
        "sim.seed=1",
        f"sim.log_path={tmp_path / 'sim.jsonl'}",
        f"safety.event_log={tmp_path / 'events.jsonl'}",
        f"safety.estop_file={tmp_path / 'estop.json'}",
    ):
        args += ["--set", item]
    run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "view           stopped   exit code 0" in run.stderr + run.stdout
    rows = [json.loads(line) for line in (tmp_path / "sim.jsonl").read_text().splitlines()]
    steps = [round(r["t"], 4) for r in rows]  # sim time of each step's observation
    last = max(round(r["t"], 4) for r in rows if r["commanded"])  # the episode's end (braking after is unpublished)
    events = len((tmp_path / "events.jsonl").read_text().splitlines())
    times = entity_times(out)

    seen = times["/camera/head"]["episode_1"]
    assert set(times) >= {"/map/boxes", "/map/path", "/perception/pca", "/task/status", "/safety/events"}, times.keys()
    assert set(seen) <= set(steps) | {0.0}  # each frame at the sim time of a real step (or of the reset)
    assert seen[-1] == last  # the last observation is in
    after = [t for t in steps if t >= seen[0]]  # the view starts after the episode does (docs/view.md)
    assert len(seen) >= 0.5 * len(after), f"{len(seen)} of {len(after)} observations since the view came up"
    for entity in OBS_ENTITIES:
        assert times[entity]["episode_1"] == seen, entity  # every observation stream complete and in step
    assert times["/map/boxes"] == {"episode_1": [0.0]}  # the apartment of this episode, from its start
    for entity in ("/perception/pca", "/perception/latency_ms", "/map/path", "/safety/events", "/task/status"):
        assert set(times[entity]["episode_1"]) <= set(seen), entity  # placed at an observation's time
    assert 0 < len(times["/safety/events"]["episode_1"]) <= events
    assert len(times["/perception/pca"]["episode_1"]) >= 0.5 * len(seen)

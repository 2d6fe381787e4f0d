"""The shipped sim graph (launch/sim_fetch.yaml) end to end: the expert fetches an object through the
safety node, perception encodes the camera, the episode ends, and every node stops cleanly."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.procs import REPO, LaunchRun

SEED = 9  # a short fetch (about 230 steps)


def test_expert_fetch_ends_and_the_graph_stops_cleanly(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(
        REPO / "launch/sim_fetch.yaml",
        "sim.task=fetch",
        f"sim.seed={SEED}",
        f"safety.event_log={tmp_path / 'events.jsonl'}",
        f"safety.estop_file={tmp_path / 'estop.json'}",
    )
    runs.append(run)
    assert run.wait(timeout=120) == 0, run.text
    done = run.wait_for(r"sim \| .*episode 1 done: success=(\w+) steps=(\d+)")
    assert done.group(1) == "True" and int(done.group(2)) > 150, run.text  # picked and placed, through safety
    run.wait_for(r"expert \| .*episode 1 over \(success=True\)")
    run.wait_for(rf"launch \| task fetch: success in {done.group(2)} steps")
    latents = run.wait_for(r"perception \| .*?(\d+) latents published")
    assert int(latents.group(1)) > 0, run.text
    assert "no expert action" not in run.text  # the expert learns the end over RPC, not by timing out
    assert "Traceback" not in run.text and "UserWarning" not in run.text
    statuses = dict(re.findall(r"launch \|\s+(\w+)\s+(?:exited|stopped)\s+exit code (\d+)", run.text))
    assert statuses == {"sim": "0", "expert": "0", "safety": "0", "perception": "0"}

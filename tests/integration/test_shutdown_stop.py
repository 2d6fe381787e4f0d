"""Shutdown with a moving robot (real sim in realtime, a source proposing 0.3 m/s through safety): when a
required bystander hangs, the launcher kills it, latches the backend's stop and lets the base come to
rest before anything else stops; nothing moves again, even after SIGCONT."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np

from tests.integration.procs import LaunchRun, wait_gone

REST = 0.005  # m/s, rad/s


def graph(tmp: Path) -> Path:
    path = tmp / "graph.yaml"
    path.write_text(f"""name: shutdown_stop
run_dir: {tmp}/run
nodes:
  - name: sim
    module: sim.node
    config: configs/sim/default.yaml
    publishes: [obs, task_status]
    subscribes: [cmd.safe]
    rpc: auto
    role: backend
    params: {{mode: realtime, control_hz: 20.0, render: false, image_size: [16, 16], accept_sources: [safety],
              log_path: {tmp}/sim.jsonl}}
  - name: safety
    module: agent.safety.node
    config: configs/safety/mobile_so101.yaml
    publishes: [cmd.safe, safety_events]
    subscribes: [cmd.proposed, obs]
    rpc: auto
    params: {{control_hz: 20.0, estop_file: {tmp}/estop.json, event_log: {tmp}/events.jsonl}}
  - name: source
    module: tests.fixtures.safety_source
    publishes: [cmd.proposed]
    params: {{vx: 0.3, wz: 0.0, arm_amp: 0.0}}
  - name: bystander
    module: tests.fixtures.talker
    publishes: [noise]
    heartbeat_timeout_s: 1.0
    params: {{topic: noise, rate_hz: 10.0}}
""")
    return path


def rows(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "sim.jsonl").read_text().splitlines() if line.strip()]


def speed(row: dict) -> float:
    return float(np.max(np.abs(row["base_vel"])))


def test_hung_required_node_ends_the_graph_with_the_robot_at_rest(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(graph(tmp_path))
    runs.append(run)
    run.wait_for("graph 'shutdown_stop' up", timeout=60)
    deadline = time.monotonic() + 10
    while not ((tmp_path / "sim.jsonl").exists() and any(r["commanded"] and speed(r) > 0.2 for r in rows(tmp_path))):
        assert time.monotonic() < deadline, f"the robot never drove\n{run.text[-3000:]}"
        time.sleep(0.1)
    pids = run.pids()
    os.kill(pids["bystander"], signal.SIGSTOP)
    assert run.wait(timeout=20) == 1, run.text
    assert not wait_gone(list(pids.values())), "processes left behind"
    log = rows(tmp_path)
    latched = next((i for i, r in enumerate(log) if r.get("latched")), None)
    assert latched is not None, f"the sim never latched a stop\n{run.text}"
    assert not [r for r in log[latched:] if r["commanded"]], "a command was applied after the latched stop"
    assert speed(log[latched]) > 0.1, "the test should stop a moving robot"
    assert speed(log[-1]) < REST, f"the sim exited with the base at {log[-1]['base_vel']}"
    assert "bystander: no heartbeat for" in run.text and "sim: robot at rest after" in run.text, run.text
    for pid in pids.values():  # nothing is left to resume
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            continue
    time.sleep(0.3)
    assert len(rows(tmp_path)) == len(log), "the sim stepped again after it exited"

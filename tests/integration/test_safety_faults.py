"""Fault injection with real processes: sim (realtime) + command source + perception + safety.

Every fault must leave the simulated robot stopped within 150 ms of sim time, read from the
sim node's per-step log. Perception is the real node (a tiny trained checkpoint) encoding the
sim's camera; safety requires its heartbeats.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.runtime.bus import RpcClient
from tests.integration.procs import LaunchRun, kill_all

STOP_WITHIN_S = 0.15
BASE_TOL, ARM_TOL = 0.005, 0.02  # m/s (rad/s for yaw), rad/s


def graph(tmp: Path, encoder: Path) -> Path:
    path = tmp / "graph.yaml"
    path.write_text(f"""name: safety_faults
run_dir: {tmp}/run
nodes:
  - name: sim
    module: sim.node
    config: configs/sim/default.yaml
    publishes: [obs, task_status]
    subscribes: [cmd.safe]
    rpc: auto
    role: backend
    required: false
    params: {{mode: realtime, control_hz: 40.0, physics_hz: 240.0, deadman_s: 0.05, accept_sources: [safety],
              image_size: [16, 16], log_path: {tmp}/sim.jsonl}}
  - name: safety
    module: agent.safety.node
    config: configs/safety/mobile_so101.yaml
    publishes: [cmd.safe, safety_events]
    subscribes: [cmd.proposed, obs, latent]
    rpc: auto
    required: false
    params:
      control_hz: 40.0
      command_ttl_s: 0.06
      estop_file: {tmp}/estop.json
      event_log: {tmp}/events.jsonl
      watchdog: {{cmd_timeout_s: 0.05, obs_timeout_s: 0.1, peer_timeout_s: 0.05, require_peers: [perception]}}
  - name: source
    module: tests.fixtures.safety_source
    publishes: [cmd.proposed]
    rpc: auto
    required: false
  - name: perception
    module: agent.perception.node
    publishes: [latent]
    subscribes: [obs]
    rpc: auto
    required: false
    after: [sim]
    params: {{heartbeat_hz: 50.0, checkpoint: {encoder}/run/checkpoint.pt, model: {encoder}/model.yaml}}
""")
    return path


@pytest.fixture
def run(tmp_path: Path, run_dir: Path) -> Iterator[LaunchRun]:
    r = LaunchRun(graph(tmp_path, run_dir))
    yield r
    pids = list(r.pids().values())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            continue
    kill_all(pids)
    r.kill()


def rows(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "sim.jsonl").read_text().splitlines() if line.strip()]


def moving(row: dict) -> bool:
    return bool(np.max(np.abs(row["base_vel"])) > BASE_TOL or np.max(np.abs(row["arm_vel"])) > ARM_TOL)


def start_moving(run: LaunchRun, tmp: Path) -> None:
    run.wait_for("graph 'safety_faults' up", timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (tmp / "sim.jsonl").exists() and sum(r["commanded"] and moving(r) for r in rows(tmp)[-20:]) >= 10:
            return
        time.sleep(0.1)
    raise AssertionError(f"robot never moved under the source's commands\n{run.text[-3000:]}")


def assert_stops(tmp: Path, t_fault: float, settle_s: float = 0.8) -> None:
    time.sleep(settle_s)
    after = [r for r in rows(tmp) if r["t"] > t_fault]
    assert after and after[-1]["t"] > t_fault + 3 * STOP_WITHIN_S, "the sim stopped logging"
    late = [r for r in after if r["t"] >= t_fault + STOP_WITHIN_S and moving(r)]
    assert not late, f"still moving {late[0]['t'] - t_fault:.3f} s of sim time after the fault: {late[0]}"


def fault_time(tmp: Path) -> float:
    return rows(tmp)[-1]["t"]  # sim time of the last step before the fault (a conservative bound)


@pytest.mark.parametrize(
    ("target", "sig"),
    [
        ("source", signal.SIGKILL),
        ("source", signal.SIGSTOP),
        ("perception", signal.SIGKILL),
        ("perception", signal.SIGSTOP),
        ("safety", signal.SIGKILL),
        ("safety", signal.SIGSTOP),
    ],
)
def test_process_fault_stops_the_robot(run: LaunchRun, tmp_path: Path, target: str, sig: signal.Signals) -> None:
    start_moving(run, tmp_path)
    t0 = fault_time(tmp_path)
    os.kill(run.pids()[target], sig)
    assert_stops(tmp_path, t0)


@pytest.mark.parametrize("mode", [{"delay_s": 0.15}, {"drop": True}])
def test_delayed_or_dropped_commands_stop_the_robot(run: LaunchRun, tmp_path: Path, mode: dict) -> None:
    start_moving(run, tmp_path)
    client = RpcClient(f"ipc://{tmp_path}/run/source.rpc")
    try:
        t0 = fault_time(tmp_path)
        client.call("set", mode, timeout=1.0)
        assert_stops(tmp_path, t0)
    finally:
        client.close()
    events = (tmp_path / "events.jsonl").read_text()
    assert ("stale_command" if "delay_s" in mode else "no_command") in events


def test_estop_cli_stops_and_only_commands_after_the_reset_move(run: LaunchRun, tmp_path: Path) -> None:
    from agent.safety import estop_cli

    start_moving(run, tmp_path)
    t0 = fault_time(tmp_path)
    args = ["--file", f"{tmp_path}/estop.json", "--rpc", f"ipc://{tmp_path}/run/safety.rpc"]
    assert estop_cli.main([*args, "--reason", "test"]) == 0
    assert_stops(tmp_path, t0, settle_s=0.6)
    assert estop_cli.main([*args, "--reset", "--reason", "test over"]) == 0
    time.sleep(0.5)  # the source keeps proposing: fresh commands after the reset may move again
    assert any(moving(r) for r in rows(tmp_path)[-10:])

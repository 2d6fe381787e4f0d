"""The launcher with real node processes on loopback: startup, supervision, shutdown, no orphans."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.integration.procs import LaunchRun, wait_gone


def write_graph(tmp_path: Path, talker: str = "", listener: str = "") -> Path:
    path = tmp_path / "graph.yaml"
    path.write_text(
        f"""name: itest
run_dir: {tmp_path}/run
nodes:
  - name: talker
    module: tests.fixtures.talker
    publishes: [cmd]
    params: {{rate_hz: 50}}
    {talker}
  - name: listener
    module: tests.fixtures.listener
    subscribes: [cmd]
    rpc: auto
    role: backend
    params: {{record: {tmp_path}/listener.jsonl}}
    {listener}
"""
    )
    return path


def records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "listener.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_graph_runs_messages_flow_and_it_finishes_cleanly(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path), "listener.count=25")
    runs.append(run)
    assert run.wait() == 0, run.text
    got = [r["seq"] for r in records(tmp_path) if "seq" in r]
    assert len(got) == 25 and got == sorted(got)
    assert "talker ready" in run.text and "graph 'itest' finished; exit status 0" in run.text
    assert run.text.index("talker ready") < run.text.index("started listener")
    assert not wait_gone(list(run.pids().values()))


def test_sigkill_of_required_node_stops_backend_and_brings_graph_down(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path))
    runs.append(run)
    run.wait_for("graph 'itest' up")
    pids = run.pids()
    os.kill(pids["talker"], signal.SIGKILL)
    assert run.wait() == 1, run.text
    assert "talker exited (killed by SIGKILL)" in run.text
    assert "listener: robot commanded to stop" in run.text
    assert records(tmp_path)[-1] == {"stop": True}
    assert "graph 'itest' failed; exit status 1" in run.text
    assert not wait_gone(list(pids.values())), "orphan processes left"


def test_restart_policy_restarts_an_optional_node_then_gives_up(tmp_path: Path, runs: list[LaunchRun]) -> None:
    talker = "required: false\n    restart: {policy: on-failure, max_restarts: 2, backoff_s: 0.1}"
    run = LaunchRun(write_graph(tmp_path, talker=talker), "talker.exit_code_after_s=0.3")
    runs.append(run)
    run.wait_for(r"restarting talker \(1/2\)")
    run.wait_for(r"restarting talker \(2/2\)")
    run.wait_for("talker: gave up after 2 restart")
    assert run.proc.poll() is None, "an optional node's death must not bring the graph down"
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 0, run.text
    assert len(set(run.text.split("started talker")[1:])) == 3
    assert not wait_gone(list(run.pids().values()))


def test_ctrl_c_shuts_down_in_reverse_order_and_exits_zero(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path))
    runs.append(run)
    run.wait_for("graph 'itest' up")
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 0, run.text
    assert "graph 'itest' interrupted; exit status 0" in run.text
    assert run.text.index("listener | ") < run.text.rindex("talker | ")  # prefixed logs
    assert not wait_gone(list(run.pids().values()))


def test_killing_the_launcher_leaves_no_orphans(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path))
    runs.append(run)
    run.wait_for("graph 'itest' up")
    pids = run.pids()
    run.proc.kill()
    run.proc.wait()
    assert not wait_gone(list(pids.values())), "children outlived a SIGKILLed launcher"


def test_a_node_that_never_gets_ready_fails_the_launch(tmp_path: Path, runs: list[LaunchRun]) -> None:
    path = write_graph(tmp_path, listener="ready_timeout_s: 0.01")
    run = LaunchRun(path)
    runs.append(run)
    assert run.wait() == 1, run.text
    assert "listener not ready within" in run.text
    assert not wait_gone(list(run.pids().values()))


def test_invalid_graph_exits_2_before_starting_anything(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path), "talker.rate_hz=fast")
    runs.append(run)
    assert run.wait() == 2
    assert "key 'rate_hz'" in run.text and not run.pids()

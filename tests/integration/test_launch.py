"""The launcher with real node processes on loopback: startup, supervision, shutdown, no orphans."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from tests.integration.procs import LaunchRun, launched_by, wait_gone


def write_graph(tmp_path: Path, talker: str = "", listener: str = "", head: str = "") -> Path:
    """A talker -> listener graph; head replaces the name and run_dir lines."""
    head = head or f"name: itest\nrun_dir: {tmp_path}/run"
    path = tmp_path / "graph.yaml"
    path.write_text(
        f"""{head}
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
    assert records(tmp_path)[-1] == {"stop": True, "latch": True}
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


def test_a_silent_required_node_is_killed_and_fails_the_graph(tmp_path: Path, runs: list[LaunchRun]) -> None:
    run = LaunchRun(write_graph(tmp_path))
    runs.append(run)
    run.wait_for("graph 'itest' up")
    pids = run.pids()
    os.kill(pids["talker"], signal.SIGSTOP)  # hung: alive, but no heartbeat and deaf to SIGTERM
    assert run.wait(timeout=15) == 1, run.text
    assert "talker: no heartbeat for 3." in run.text and "talker exited (killed by SIGKILL)" in run.text
    assert not wait_gone(list(pids.values())), "orphan processes left"


def test_a_silent_optional_node_is_restarted(tmp_path: Path, runs: list[LaunchRun]) -> None:
    talker = (
        "required: false\n    heartbeat_timeout_s: 1.0\n"
        "    restart: {policy: on-failure, max_restarts: 1, backoff_s: 0.1}"
    )
    run = LaunchRun(write_graph(tmp_path, talker=talker))
    runs.append(run)
    run.wait_for("graph 'itest' up")
    os.kill(run.pids()["talker"], signal.SIGSTOP)
    run.wait_for("talker: no heartbeat for", timeout=10)
    run.wait_for(r"restarting talker \(1/1\)")
    assert run.proc.poll() is None, run.text
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 0, run.text


def test_a_restarted_node_that_hangs_before_ready_is_killed(tmp_path: Path, runs: list[LaunchRun]) -> None:
    talker = (
        "required: false\n    ready_timeout_s: 2\n    restart: {policy: on-failure, max_restarts: 1, backoff_s: 0.1}"
    )
    marker = tmp_path / "talker.started"
    run = LaunchRun(write_graph(tmp_path, talker=talker), f"talker.hang_on_restart={marker}")
    runs.append(run)
    run.wait_for("graph 'itest' up")
    first = run.pids()["talker"]
    os.kill(first, signal.SIGKILL)
    run.wait_for(r"restarting talker \(1/1\)")
    run.wait_for("talker not ready within 2s of its restart", timeout=10)  # hung in setup: no heartbeat ever
    run.wait_for("talker: gave up after 1 restart")
    assert run.proc.poll() is None, run.text
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 0, run.text
    assert not wait_gone(list(run.pids().values())), "the hung restart was left running"


def test_sigkilled_launcher_leaves_no_process_and_the_next_removes_its_run_dir(
    tmp_path: Path, runs: list[LaunchRun]
) -> None:
    """SIGKILL at random moments of start-up and running, every other round while it shuts down after a
    SIGTERM (the nodes then get two SIGTERMs): no node outlives it; the next launcher sweeps its run dir."""
    name = f"orphans{os.getpid()}"
    path = write_graph(tmp_path, head=f"name: {name}")  # default run dir: /tmp/amibot-NAME-PID
    rng = random.Random(15)
    for i in range(6):
        run = LaunchRun(path)
        runs.append(run)
        delay = rng.uniform(0.0, 1.4)
        time.sleep(delay)
        if i % 2:
            run.proc.send_signal(signal.SIGTERM)
            time.sleep(rng.uniform(0.0, 0.1))
        run.kill()
        deadline = time.monotonic() + 3.0
        while (left := launched_by(run.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"round {i} (killed after {delay:.2f} s): nodes {left} outlived the launcher\n{run.text}"
    final = LaunchRun(path, "listener.count=25")
    runs.append(final)
    assert final.wait() == 0, final.text
    assert not list(Path("/tmp").glob(f"amibot-{name}-*")), "run dirs of dead launchers left behind"


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


def test_a_required_node_that_finishes_while_later_nodes_start_ends_the_graph_cleanly(
    tmp_path: Path, runs: list[LaunchRun]
) -> None:
    """A short episode can end before the last node is ready: that is a finished graph, not a failed one."""
    path = write_graph(tmp_path, listener="after: [talker]")
    path.write_text(
        path.read_text()
        + """  - name: late
    module: tests.fixtures.listener
    subscribes: [cmd]
    required: false
    after: [listener]
"""
    )
    run = LaunchRun(path, "listener.count=2")
    runs.append(run)
    assert run.wait() == 0, run.text
    assert "graph 'itest' finished; exit status 0" in run.text
    assert "graph 'itest' up" not in run.text, "the listener was meant to finish before 'late' was ready"
    assert not wait_gone(list(run.pids().values()))

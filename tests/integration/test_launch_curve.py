"""Whole graphs with CurveZMQ on: nodes authenticate each other, an outsider without a key hears nothing, and
every rpc client (nodes, the launcher, the command-line tools) uses the graph's keys."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent import cli
from agent.runtime.bus import Subscriber
from agent.runtime.security import CurveClient, make_keys
from agent.safety import estop_cli
from tests.integration.procs import REPO, LaunchRun, kill_all, wait_gone


def test_secure_graph_runs_and_rejects_unknown_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = subprocess.run(
        [sys.executable, "-m", "agent.cli", "keys", "talker", "listener", "launcher", "--dir", str(keys)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert (keys / "authorized" / "talker.key").exists() and (keys / "talker.key_secret").stat().st_mode & 0o077 == 0
    graph = tmp_path / "g.yaml"
    graph.write_text(f"""name: secure
run_dir: {tmp_path}/run
security: {{keys_dir: {keys}}}
nodes:
  - {{name: talker, module: tests.fixtures.talker, publishes: [cmd], publish: 'tcp://127.0.0.1:47711'}}
  - name: listener
    module: tests.fixtures.listener
    subscribes: [cmd]
    params: {{record: {tmp_path}/got.jsonl}}
""")
    run = LaunchRun(graph)
    try:
        run.wait_for("graph 'secure' up")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (tmp_path / "got.jsonl").exists():
            time.sleep(0.05)
        assert (tmp_path / "got.jsonl").exists(), "authenticated listener received nothing:\n" + run.text

        make_keys(tmp_path / "outsider", "mallory")  # a valid key pair nobody authorized
        outsider = Subscriber(
            ["tcp://127.0.0.1:47711"],
            ["cmd"],
            curve={
                "tcp://127.0.0.1:47711": CurveClient(tmp_path / "outsider" / "mallory.key_secret", keys / "talker.key")
            },
        )
        plain = Subscriber(["tcp://127.0.0.1:47711"], ["cmd"])
        time.sleep(1.0)
        assert not outsider.drain() and not plain.drain()
        outsider.close(), plain.close()
        got = [json.loads(line) for line in (tmp_path / "got.jsonl").read_text().splitlines()]
        assert len(got) > 10
    finally:
        run.proc.terminate()
        run.wait()
        kill_all(list(run.pids().values()))
    assert not wait_gone(list(run.pids().values()))


def test_demo_graph_with_curve_runs_its_episode_and_answers_keyed_tools(
    tmp_path: Path, runs: list[LaunchRun], capsys: pytest.CaptureFixture[str]
) -> None:
    """launch/sim_fetch.yaml with security on: every rpc client in the graph (expert -> sim, safety -> sim,
    launcher -> sim stop) and the keyed command-line tools get answers; tools without keys fail clearly."""
    keys = tmp_path / "keys"
    assert cli.main(["keys", "sim", "safety", "expert", "perception", "launcher", "operator", "--dir", str(keys)]) == 0
    graph = yaml.safe_load((REPO / "launch/sim_fetch.yaml").read_text())
    graph.update(security={"keys_dir": str(keys)}, run_dir=str(tmp_path / "run"))
    (tmp_path / "sim_fetch.yaml").write_text(yaml.safe_dump(graph))
    estop_file = tmp_path / "estop.json"
    run = LaunchRun(tmp_path / "sim_fetch.yaml", "sim.task=navigate", "sim.seed=1", "sim.exit_on_done=false",
                    f"safety.event_log={tmp_path / 'events.jsonl'}", f"safety.estop_file={estop_file}")  # fmt: skip
    runs.append(run)
    done = run.wait_for(r"sim \| .*episode 1 done: success=(\w+) steps=(\d+)", timeout=120)
    assert done.group(1) == "True" and int(done.group(2)) > 50, run.text  # the expert drove, through safety
    run.wait_for(r"expert \| .*episode 1 over \(success=True\)")

    safety_rpc = f"ipc://{tmp_path}/run/safety.rpc"
    assert cli.main(["call", safety_rpc, "ping", "--keys", str(keys)]) == 0
    assert '"node": "safety"' in capsys.readouterr().out
    assert cli.main(["call", safety_rpc, "ping", "--timeout", "0.2"]) == 1
    assert "--keys DIR" in capsys.readouterr().err
    estop = ["--file", str(estop_file), "--rpc", safety_rpc, "--reason", "test"]
    assert estop_cli.main([*estop, "--keys", str(keys)]) == 0
    assert '"tripped": true' in capsys.readouterr().out.splitlines()[-1]  # the node's own answer
    assert estop_cli.main([*estop, "--status"]) == 1
    assert "--keys DIR" in capsys.readouterr().err

    run.proc.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 0, run.text
    assert "sim: robot commanded to stop" in run.text  # the launcher's stop call got through too
    assert "no expert action" not in run.text and "Traceback" not in run.text

"""A whole graph with CurveZMQ on: nodes authenticate each other; an outsider without a key hears nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from agent.runtime.bus import Subscriber
from agent.runtime.security import CurveClient, make_keys
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

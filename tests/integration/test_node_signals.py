"""A real node process hit by bursts of SIGTERM (PDEATHSIG when the launcher dies, and more) exits 0, promptly."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from agent.runtime.bus import RpcClient
from tests.integration.procs import start_node, wait_ready


def test_bursts_of_sigterm_always_end_the_node_with_code_0(tmp_path: Path) -> None:
    config = tmp_path / "listener.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "listener",
                "publish": f"ipc://{tmp_path}/l.pub",
                "rpc": f"ipc://{tmp_path}/l.rpc",
                "inputs": {"cmd": f"ipc://{tmp_path}/nobody.pub"},
            }
        )
    )
    for trial in range(3):
        node = start_node("tests.fixtures.listener", config)
        client = RpcClient(f"ipc://{tmp_path}/l.rpc")
        try:
            wait_ready(node, client)
            deadline = time.monotonic() + 5
            while node.poll() is None and time.monotonic() < deadline:  # more arrive while a handler runs
                for _ in range(50):
                    os.kill(node.pid, signal.SIGTERM)  # a zombie until poll() reaps it: never another pid
                time.sleep(0.0005)
            code = node.poll()
            assert code == 0, f"trial {trial}: exit code {code} after SIGTERM bursts (None: hung in its handler)"
        finally:
            client.close()
            if node.poll() is None:
                node.kill()
                node.wait()

"""Teleop with a recorder that does not answer (killed, restarting): the session goes on to the next episode
instead of stalling at the episode boundary."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from agent.runtime.bus import RpcServer
from agent.runtime.config import load_config
from agent.teleop.node import TeleopConfig, TeleopNode
from agent.teleop.source import NEXT


def test_next_episode_starts_when_the_recorder_is_gone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    resets: list[dict[str, Any]] = []
    backend = RpcServer(f"ipc://{tmp_path}/backend.sock", {
        "status": lambda _: {"success": True}, "reset": lambda p: resets.append(p) or {}})  # fmt: skip
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if backend.sock.poll(5):
                backend.handle_pending()

    thread = threading.Thread(target=serve)
    thread.start()
    cfg = load_config(TeleopConfig, None, [
        "name=teleop", f"publish=ipc://{tmp_path}/teleop.sock", f"inputs={{obs: 'ipc://{tmp_path}/obs.sock'}}",
        "device=file", f"script_file={tmp_path}/none.jsonl", f"backend_rpc={backend.endpoint}",
        f"recorder_rpc=ipc://{tmp_path}/recorder.sock", "recorder_timeout_s=0.2", "seed=4",
    ])  # fmt: skip
    node = TeleopNode(cfg)
    try:
        node._handle(NEXT)  # save and episode_info go unanswered
    finally:
        node.close()
        stop.set()
        thread.join()
        backend.close()
    assert resets == [{"task": "fetch", "seed": 5}]
    assert node.counters["recorder_errors"] == 2 and "recorder did not take 'save'" in caplog.text

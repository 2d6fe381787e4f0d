"""The teleop node with device 'gamepad' on a virtual pad, against real RPC servers for backend and safety."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.runtime.bus import RpcServer
from agent.runtime.config import load_config
from agent.runtime.messages import Command, Observation
from agent.teleop.gamepad import import_pygame
from agent.teleop.node import TeleopConfig, TeleopNode
from tests.unit.teleop.virtual_gamepad import VirtualGamepad

FEATURES = {"action": {"base_vel": {"high": [0.4, 0.3, 1.2]},
                       "arm_targets": {"low": [-1.0] * 3, "high": [1.0] * 3}}}  # fmt: skip
LY, B, START = 1, 1, 7


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[dict[str, RpcServer], list[tuple[str, str, dict]]]]:
    """A backend (features, reset, stop, status) and a safety node (estop) that log their calls."""
    calls: list[tuple[str, str, dict]] = []

    def handler(server: str, method: str, result: Any) -> Any:
        return lambda params: calls.append((server, method, params)) or result

    srv = {
        "backend": RpcServer(f"ipc://{tmp_path}/backend.sock", {
            "features": handler("backend", "features", FEATURES), "reset": handler("backend", "reset", {}),
            "stop": handler("backend", "stop", {}), "status": handler("backend", "status", {"success": False})}),
        "safety": RpcServer(f"ipc://{tmp_path}/safety.sock", {"estop": handler("safety", "estop", {})}),
    }  # fmt: skip
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for s in srv.values():
                if s.sock.poll(5):
                    s.handle_pending()

    thread = threading.Thread(target=serve)
    thread.start()
    yield srv, calls
    stop.set()
    thread.join()
    for s in srv.values():
        s.close()


def config(tmp_path: Path, srv: dict[str, RpcServer], index: int) -> TeleopConfig:
    return load_config(TeleopConfig, None, [
        "name=teleop", f"publish=ipc://{tmp_path}/teleop.sock", f"inputs={{obs: 'ipc://{tmp_path}/obs.sock'}}",
        "device=gamepad", f"gamepad.index={index}",
        f"backend_rpc={srv['backend'].endpoint}", f"safety_rpc={srv['safety'].endpoint}",
    ])  # fmt: skip


def test_a_missing_pad_stops_the_node_with_one_clear_line(servers: Any, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    node = TeleopNode(config(tmp_path, servers[0], import_pygame().joystick.get_count()))
    try:
        with pytest.raises(SystemExit) as exit_info:
            node.setup()
        assert exit_info.value.code == 2
        assert "no gamepad at index" in caplog.text and "Traceback" not in caplog.text
    finally:
        node.teardown()
        node.close()


def test_gamepad_drives_the_node_and_its_estop_button_takes_the_estop_path(servers: Any, tmp_path: Path) -> None:
    srv, calls = servers
    pad = VirtualGamepad()
    node = TeleopNode(config(tmp_path, srv, import_pygame().joystick.get_count() - 1))
    sent: list[Command] = []
    node.publish = lambda topic, msg: sent.append(msg) or msg  # type: ignore[method-assign]
    obs = Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=np.zeros(3), base_vel=np.zeros(3),
                      arm=np.full(3, 0.2), arm_vel=np.zeros(3), gripper=0.5)  # fmt: skip
    try:
        node.setup()
        assert [c[:2] for c in calls] == [("backend", "features"), ("backend", "reset")]
        node._on_obs(obs)
        node._tick()
        pad.axis(LY, -1.0)
        node._tick()
        assert len(sent) == 2
        np.testing.assert_allclose(sent[-1].base_vel, [0.4, 0.0, 0.0], atol=1e-4)
        np.testing.assert_allclose(sent[-1].arm, 0.2)

        pad.tap(B)
        node._tick()
        node._tick()
        assert len(sent) == 2  # nothing is sent after the e-stop, stick still pushed
        assert ("backend", "stop") in [c[:2] for c in calls]
        estops = [c[2] for c in calls if c[:2] == ("safety", "estop")]
        assert estops == [{"reason": "teleop e-stop (gamepad)"}]

        pad.tap(START)  # next episode: reset to seed 1, then drive only after the stick was at rest
        node._tick()
        assert [c[2] for c in calls if c[1] == "reset"][-1]["seed"] == 1
        node._on_obs(obs)
        node._tick()
        assert not sent[-1].base_vel.any()
        pad.axis(LY, 0.0)
        node._tick()
        pad.axis(LY, -1.0)
        node._tick()
        assert sent[-1].base_vel[0] == pytest.approx(0.4, abs=1e-4)
    finally:
        node.teardown()
        node.close()
        pad.detach()

"""An in-process Node on real sockets: typed inputs and links ZeroMQ dropped."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq

from agent.runtime.bus import context
from agent.runtime.codec import encode
from agent.runtime.config import ConfigError
from agent.runtime.messages import Command, Heartbeat, Observation
from agent.runtime.node import Node, NodeConfig


def observation() -> Observation:
    z, q = np.zeros(3), np.zeros(5)
    return Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=z, base_vel=z, arm=q, arm_vel=q)


def command() -> Command:
    return Command(base_vel=np.zeros(3), arm=np.zeros(5), gripper=0.5, valid_until=1.0, source="intruder")


class ObsNode(Node):
    """Takes observations on 'obs' and keeps them."""

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self.got: list[Observation] = []
        self.on("obs", self.got.append, Observation)


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[zmq.Socket]:
    """A raw publisher the node under test subscribes to (frames sent as they are, no checks)."""
    sock = context().socket(zmq.PUB)
    sock.linger = 0
    sock.bind(f"ipc://{tmp_path}/feed.sock")
    yield sock
    sock.close()


def make_node(tmp_path: Path, endpoint: str, **kw: int) -> ObsNode:
    return ObsNode(NodeConfig(name="n", publish=f"ipc://{tmp_path}/n.pub", inputs={"obs": endpoint}, **kw))


def spin_until(node: Node, done: Callable[[], bool], send: Callable[[], None], timeout: float = 5.0) -> bool:
    """Send and spin until done() holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        node.spin_once(0.02)
        if done():
            return True
    return False


def test_a_message_of_the_wrong_type_is_a_counted_reject_and_the_handler_never_sees_it(
    tmp_path: Path, feed: zmq.Socket
) -> None:
    node = make_node(tmp_path, f"ipc://{tmp_path}/feed.sock")
    try:
        assert spin_until(node, lambda: bool(node.got), lambda: feed.send_multipart(encode("obs", observation())))
        node.got.clear()
        feed.send_multipart(encode("heartbeat", observation()))  # used to end the node with an AssertionError
        feed.send_multipart(encode("obs", command()))  # used to reach the handler (handler_error at best)
        feed.send_multipart(encode("obs", observation()))
        assert spin_until(node, lambda: bool(node.got), lambda: None)
        assert len(node.got) == 1 and isinstance(node.got[0], Observation)
        stats = node.stats()
        assert stats["rejected"] == {"wrong_type": 2}, stats
        assert "handler_error" not in stats["counters"] and node.peers == {}
    finally:
        node.close()


def test_a_handler_on_the_heartbeat_topic_must_take_heartbeats(tmp_path: Path) -> None:
    config = NodeConfig(name="n", publish=f"ipc://{tmp_path}/n.pub", inputs={"heartbeat": f"ipc://{tmp_path}/x"})
    node = Node(config)
    try:
        with pytest.raises(ConfigError, match="carries Heartbeat, not Command"):
            node.on("heartbeat", lambda _: None, Command)
        node.on("heartbeat", lambda _: None, Heartbeat)
    finally:
        node.close()


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_a_frame_over_the_socket_cap_costs_that_frame_not_the_link(tmp_path: Path, transport: str) -> None:
    raw = context().socket(zmq.PUB)
    raw.linger = 0
    port = raw.bind_to_random_port("tcp://127.0.0.1") if transport == "tcp" else None
    endpoint = f"tcp://127.0.0.1:{port}" if port else f"ipc://{tmp_path}/raw.sock"
    if not port:
        raw.bind(endpoint)
    node = make_node(tmp_path, endpoint, max_msg_bytes=100_000)  # the socket drops the link above 200 kB
    try:
        good = encode("obs", observation())
        assert spin_until(node, lambda: bool(node.got), lambda: raw.send_multipart(good))
        raw.send_multipart([b"obs", b"\0" * 300_000])  # ZeroMQ drops the connection and never retries it
        node.got.clear()
        assert spin_until(node, lambda: bool(node.got), lambda: raw.send_multipart(good)), "deaf after oversize"
        assert node.stats()["reconnects"] == {endpoint: 1}
    finally:
        node.close()
        raw.close()


def test_a_publisher_that_restarts_is_reconnected_by_zeromq_not_by_hand(tmp_path: Path) -> None:
    """Disconnecting a link ZeroMQ is already retrying can abort libzmq; only links it gave up on are relinked."""
    endpoint = f"ipc://{tmp_path}/restarting.sock"
    node = make_node(tmp_path, endpoint)
    good = encode("obs", observation())
    try:
        for _ in range(3):
            raw = context().socket(zmq.PUB)
            raw.linger = 0
            raw.bind(endpoint)
            node.got.clear()
            send = raw.send_multipart
            assert spin_until(node, lambda: bool(node.got), lambda: send(good)), "publisher not heard"  # noqa: B023
            raw.close()
            spin_until(node, lambda: False, lambda: None, timeout=0.4)  # past RELINK_AFTER_S with the link down
        assert node.stats()["reconnects"] == {}
    finally:
        node.close()


REENTRANT_STOP = """
import signal, sys, time
from agent.runtime.node import Node, NodeConfig
node = Node(NodeConfig(name="n", publish=sys.argv[1]))
signal.signal(signal.SIGALRM, lambda *_: node.request_stop())
signal.setitimer(signal.ITIMER_REAL, 2e-5, 2e-5)  # signals land inside request_stop itself
end = time.monotonic() + 1.5
while time.monotonic() < end:
    node.request_stop()
signal.setitimer(signal.ITIMER_REAL, 0, 0)
node.close()
print("survived", flush=True)
"""


def test_request_stop_can_be_reentered_from_a_signal_handler(tmp_path: Path) -> None:
    """A SIGTERM arriving inside request_stop re-enters it; a lock there (threading.Event.set) deadlocked
    nodes that the launcher's death sent SIGTERM to, leaving orphans."""
    got = subprocess.run(
        [sys.executable, "-c", REENTRANT_STOP, f"ipc://{tmp_path}/n.pub"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert got.returncode == 0 and "survived" in got.stdout, (got.returncode, got.stderr[-500:])

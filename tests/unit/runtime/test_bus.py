"""Real ZeroMQ sockets in one process: pub/sub draining, rejects, request/reply, CurveZMQ."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq

from agent.runtime.bus import Publisher, RpcClient, RpcError, RpcServer, RpcTimeout, Subscriber, context
from agent.runtime.codec import encode
from agent.runtime.messages import Command, Heartbeat
from agent.runtime.security import CurveClient, CurveServer, make_keys


def cmd(x: float = 0.1) -> Command:
    return Command(base_vel=np.array([x, 0.0, 0.0]), arm=np.zeros(5), gripper=0.5, valid_until=1.0, source="t")


def wait_connected(pub: Publisher, sub: Subscriber, topic: str = "probe") -> None:
    """Publish heartbeats until the subscriber sees one (the slow-joiner handshake)."""
    for _ in range(200):
        pub.publish("heartbeat", Heartbeat(node=topic))
        if sub.recv(timeout=0.01) is not None:
            sub.drain()
            return
    raise AssertionError("subscriber never connected")


@pytest.fixture
def endpoint(tmp_path: Path) -> str:
    return f"ipc://{tmp_path}/bus.sock"


def test_latest_value_topics_drain_to_newest_and_events_keep_order(endpoint: str) -> None:
    pub = Publisher(endpoint)
    sub = Subscriber([endpoint], ["obs", "event"], latest=["obs"])
    wait_connected(pub, sub)
    for i in range(5):
        pub.publish("obs", cmd(0.1 * i))
        pub.publish("event", cmd(0.01 * i))
    time.sleep(0.05)
    got = sub.drain()
    obs = [m for t, m in got if t == "obs"]
    events = [m.seq for t, m in got if t == "event"]
    assert len(obs) == 1 and obs[0].base_vel[0] == pytest.approx(0.4)
    assert events == [1, 2, 3, 4, 5]
    assert sub.superseded == {"obs": 4}  # dropped for a newer value, and counted
    pub.close(), sub.close()


def test_exact_topic_match_not_prefix(endpoint: str) -> None:
    pub = Publisher(endpoint)
    sub = Subscriber([endpoint], ["cmd"])
    wait_connected(pub, sub)
    pub.publish("cmd.safe", cmd())
    pub.publish("cmd", cmd())
    time.sleep(0.05)
    assert [t for t, _ in sub.drain()] == ["cmd"]
    pub.close(), sub.close()


def test_malformed_frames_are_counted_and_the_stream_goes_on(endpoint: str) -> None:
    raw = context().socket(zmq.PUB)
    raw.bind(endpoint)
    sub = Subscriber([endpoint], ["cmd"])
    good = encode("cmd", cmd())
    for _ in range(200):
        raw.send_multipart(good)
        if sub.recv(timeout=0.01):
            break
    sub.drain()
    raw.send_multipart([b"cmd"])
    raw.send_multipart([b"cmd", b"\xc1 not msgpack"])
    bad = cmd(np.nan)
    raw.send_multipart(encode("cmd", bad, validate=False))
    raw.send_multipart(good)
    time.sleep(0.05)
    got = sub.drain()
    assert len(got) == 1 and isinstance(got[0][1], Command)
    assert sub.rejects.by_reason == {"truncated": 1, "bad_header": 1, "nonfinite": 1}
    raw.close(0), sub.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RpcServer]:
    calls: list[dict] = []

    def boom(_: dict) -> None:
        raise RuntimeError("handler exploded")

    srv = RpcServer(f"ipc://{tmp_path}/rpc.sock", {"echo": lambda p: calls.append(p) or p, "boom": boom})
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if srv.sock.poll(10):
                srv.handle_pending()

    thread = threading.Thread(target=serve)
    thread.start()
    yield srv
    stop.set()
    thread.join()
    srv.close()


def test_rpc_reply_error_and_unknown_method(server: RpcServer) -> None:
    client = RpcClient(server.endpoint)
    assert client.call("echo", {"a": 1}) == {"a": 1}
    with pytest.raises(RpcError, match="handler exploded"):
        client.call("boom")
    with pytest.raises(RpcError, match="unknown method 'nope'"):
        client.call("nope")
    assert client.call("echo", {"still": "alive"}) == {"still": "alive"}
    assert server.rejects.by_reason["unknown_method"] == 1
    client.close()


def test_rpc_garbage_request_is_answered_and_counted(server: RpcServer) -> None:
    raw = context().socket(zmq.DEALER)
    raw.linger = 0
    raw.connect(server.endpoint)
    raw.send_multipart([b"", b"\xc1\xc1"])
    assert raw.poll(2000)
    assert b"bad request" in raw.recv_multipart()[-1]
    raw.close()
    assert server.rejects.by_reason["bad_request"] == 1


def test_rpc_timeout_without_server(tmp_path: Path) -> None:
    client = RpcClient(f"ipc://{tmp_path}/nobody.sock")
    start = time.monotonic()
    with pytest.raises(RpcTimeout, match="no reply after 2 tries"):
        client.call("echo", timeout=0.1, retries=1)
    assert time.monotonic() - start < 2.0
    client.close()


def test_rpc_retry_reaches_a_server_that_starts_late(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/late.sock"
    result: dict = {}

    def call() -> None:
        client = RpcClient(endpoint)
        result["value"] = client.call("echo", {"x": 1}, timeout=0.3, retries=5)
        client.close()

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.4)
    srv = RpcServer(endpoint, {"echo": lambda p: p})
    deadline = time.monotonic() + 3
    while thread.is_alive() and time.monotonic() < deadline:
        if srv.sock.poll(10):
            srv.handle_pending()
    thread.join()
    srv.close()
    assert result["value"] == {"x": 1}


def test_curve_rejects_clients_without_an_accepted_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    authorized = keys / "authorized"
    authorized.mkdir(parents=True)
    for name in ("server", "good", "evil"):
        make_keys(keys, name)
    (authorized / "good.key").write_bytes((keys / "good.key").read_bytes())
    endpoint = "tcp://127.0.0.1:0"
    server_curve = CurveServer(keys / "server.key_secret", authorized)
    pub = Publisher(endpoint.replace(":0", ":47311"), curve=server_curve)
    good = Subscriber(
        [pub.endpoint], ["cmd"], curve={pub.endpoint: CurveClient(keys / "good.key_secret", keys / "server.key")}
    )
    evil = Subscriber(
        [pub.endpoint], ["cmd"], curve={pub.endpoint: CurveClient(keys / "evil.key_secret", keys / "server.key")}
    )
    plain = Subscriber([pub.endpoint], ["cmd"])
    for _ in range(100):
        pub.publish("cmd", cmd())
        time.sleep(0.01)
    assert good.drain(), "the authorized client should receive"
    assert not evil.drain() and not plain.drain(), "unauthorized clients must receive nothing"

    rpc = RpcServer("tcp://127.0.0.1:47312", {"echo": lambda p: p}, curve=server_curve)
    ok_client = RpcClient(rpc.endpoint, curve=CurveClient(keys / "good.key_secret", keys / "server.key"))
    bad_client = RpcClient(rpc.endpoint, curve=CurveClient(keys / "evil.key_secret", keys / "server.key"))
    results: dict = {}

    def call(client: RpcClient, key: str) -> None:
        try:
            results[key] = client.call("echo", {"k": key}, timeout=0.3, retries=1)
        except RpcTimeout:
            results[key] = "timeout"

    threads = [threading.Thread(target=call, args=(c, k)) for c, k in ((ok_client, "good"), (bad_client, "evil"))]
    for t in threads:
        t.start()
    handled = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        if rpc.sock.poll(10):
            handled += rpc.handle_pending()
    for t in threads:
        t.join()
    assert results == {"good": {"k": "good"}, "evil": "timeout"}
    assert handled == 1, "the server must never see a request from an unaccepted key"
    for s in (pub, good, evil, plain, rpc, ok_client, bad_client):
        s.close()


def test_subscription_churn_cannot_dodge_the_per_peer_bound(tmp_path: Path) -> None:
    """Subscribe, unsubscribe, subscribe another: an unsubscribe refunds nothing, so churn is cut too."""
    endpoint = f"ipc://{tmp_path}/churn.pub"
    pub = Publisher(endpoint)
    peer = context().socket(zmq.XSUB)
    peer.linger = 0
    peer.connect(endpoint)
    try:
        deadline = time.monotonic() + 5
        i = 0
        while time.monotonic() < deadline and not pub.rejects.by_reason["subscription_flood"]:
            topic = f"t{i}".encode()
            peer.send(b"\1" + topic)
            peer.send(b"\0" + topic)
            i += 1
            if i % 16 == 0:
                time.sleep(0.001)
                pub.serve_subscriptions()
        assert pub.rejects.by_reason["subscription_flood"] >= 1, f"{i} churned topics, never cut"
        assert i < 10_000
    finally:
        peer.close()
        pub.close()

"""A real node process fed every class of malformed or wrong-typed frame keeps running and counts each by reason."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

from agent.runtime.bus import RpcClient, context
from agent.runtime.codec import encode
from agent.runtime.messages import Command, Observation
from tests.integration.procs import start_node, wait_ready


def good(x: float = 0.1) -> list:
    """Frames of a command (not validated on this side, so bad values can be sent)."""
    msg = Command(base_vel=np.array([x, 0, 0]), arm=np.zeros(5), gripper=0.5, valid_until=1.0, source="t")
    return [f if isinstance(f, bytes) else f.tobytes() for f in encode("cmd", msg, validate=False)]


def observation(topic: str) -> list:
    """Frames of a valid observation on topic: well-formed, but not what 'cmd' or 'heartbeat' carry."""
    z, q = np.zeros(3), np.zeros(5)
    msg = Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=z, base_vel=z, arm=q, arm_vel=q)
    return [f if isinstance(f, bytes) else bytes(f) for f in encode(topic, msg)]


def malformed() -> dict[str, list[list[bytes]]]:
    frames = good()  # [topic, header]: a command's small arrays ride inline in the header
    header = msgpack.unpackb(frames[1])  # [type, v, seq, mono, wall, base_vel, arm, ...]

    def with_header(**changes: object) -> list[bytes]:
        names = ["type", "v", "seq", "mono", "wall", "base_vel"]
        changed = [changes.get(name, value) for name, value in zip(names, header, strict=False)]
        return [frames[0], msgpack.packb(changed + header[len(names) :])]

    framed = {"d": "float64", "s": [3]}  # says a payload frame follows; none does
    return {
        "truncated": [[frames[0]], with_header(base_vel=framed)],
        "bad_header": [[frames[0], b"\xc1garbage"]],
        "bad_version": [with_header(v=7)],
        "unknown_type": [with_header(type="teleport")],
        "shape": [with_header(base_vel=[0.0, 0.0, 0.0, 0.0]), with_header(base_vel=[0.0])],
        "nonfinite": [good(float("nan"))],
        "range": [good(99.0)],
        "oversize": [[frames[0], frames[1], b"\0" * 300_000]],
        "wrong_type": [observation("cmd"), observation("heartbeat")],  # the latter used to kill every node
    }


def test_node_survives_and_counts_malformed_input(tmp_path: Path) -> None:
    feed = f"ipc://{tmp_path}/feed.sock"
    record = tmp_path / "got.jsonl"
    config = tmp_path / "listener.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "listener",
                "publish": f"ipc://{tmp_path}/l.pub",
                "rpc": f"ipc://{tmp_path}/l.rpc",
                "inputs": {"cmd": feed},
                "record": str(record),
                "max_msg_bytes": 200_000,
            }
        )
    )
    raw = context().socket(zmq.PUB)
    raw.linger = 0
    raw.bind(feed)
    node = start_node("tests.fixtures.listener", config)
    client = RpcClient(f"ipc://{tmp_path}/l.rpc")
    try:
        wait_ready(node, client)
        for _ in range(100):  # wait until the node's subscription is live
            raw.send_multipart(good())
            time.sleep(0.02)
            if record.exists():
                break
        before = len(record.read_text().splitlines())
        cases = malformed()
        for frames_list in cases.values():
            for frames in frames_list:
                raw.send_multipart(frames)
        raw.send_multipart(good())
        time.sleep(0.3)
        stats = client.call("stats")
        assert node.poll() is None, "the node died on malformed input"
        expected = {reason: len(v) for reason, v in cases.items()}
        for reason, count in expected.items():
            assert stats["rejected"].get(reason) == count, (reason, stats)
        handled = len(record.read_text().splitlines())
        assert handled == before + 1, "the valid message after the garbage got through"
        timing = stats["handler_ms"]["cmd"]  # handler durations: valid messages only, none of the rejects
        assert timing["n"] == handled and 0 < timing["p50"] <= timing["p99"] <= timing["max"], timing
    finally:
        client.close()
        node.terminate()
        assert node.wait(timeout=5) == 0, "SIGTERM must stop the node cleanly with exit code 0"
        raw.close()


FLOOD = """
import sys, zmq
peer = zmq.Context().socket(zmq.XSUB)
peer.connect(sys.argv[1])
peer.send(b"\x01heartbeat")
peer.recv_multipart()  # connected: from now on every subscription reaches the publisher
for i in range(20_000):  # distinct topics of 120 bytes: ~100 MB of subscription trie in a publisher that keeps them
    peer.send(b"\\x01" + b"%08d" % i * 15)
print("sent", flush=True)
sys.stdin.read()
"""


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def test_a_peer_flooding_subscriptions_cannot_grow_the_publisher(tmp_path: Path) -> None:
    config = tmp_path / "listener.yaml"
    publish = f"ipc://{tmp_path}/l.pub"
    inputs = {"cmd": f"ipc://{tmp_path}/nobody.pub"}
    config.write_text(
        json.dumps({"name": "listener", "publish": publish, "rpc": f"ipc://{tmp_path}/l.rpc", "inputs": inputs})
    )
    node = start_node("tests.fixtures.listener", config)
    client = RpcClient(f"ipc://{tmp_path}/l.rpc")
    flood = subprocess.Popen([sys.executable, "-c", FLOOD, publish], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        wait_ready(node, client)
        before = rss_mb(node.pid)
        assert flood.stdout is not None and flood.stdout.readline() == b"sent\n"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the node cuts the peer, or (old code) holds what it sent
            cut = client.call("stats")["rejected"].get("pub.subscription_flood", 0)
            grown = rss_mb(node.pid) - before
            if cut or grown > 30:
                break
            time.sleep(0.05)
        assert cut and grown < 30, f"cut {cut} time(s); RSS grew {grown:.0f} MB"
        assert node.poll() is None
    finally:
        flood.kill()
        flood.wait()
        client.close()
        node.terminate()
        assert node.wait(timeout=5) == 0

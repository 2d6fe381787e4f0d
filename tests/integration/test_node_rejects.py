"""A real node process fed every class of malformed frame keeps running and counts each by reason."""

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
from agent.runtime.messages import Command
from tests.integration.procs import REPO


def good(x: float = 0.1) -> list:
    """Frames of a command (not validated on this side, so bad values can be sent)."""
    msg = Command(base_vel=np.array([x, 0, 0]), arm=np.zeros(5), gripper=0.5, valid_until=1.0, source="t")
    return [f if isinstance(f, bytes) else f.tobytes() for f in encode("cmd", msg, validate=False)]


def malformed() -> dict[str, list[list[bytes]]]:
    frames = good()
    header = msgpack.unpackb(frames[1])
    bad_version = msgpack.packb({**header, "v": 7})
    bad_type = msgpack.packb({**header, "type": "teleport"})
    wrong_dtype = good()
    wrong_dtype[2] = np.zeros(3, np.float32).tobytes()
    wrong_shape_header = {**header, "a": [["base_vel", "float64", [4]], *header["a"][1:]]}
    return {
        "truncated": [[frames[0]], frames[:3], [frames[0], frames[1], frames[2][:5], frames[3]]],
        "bad_header": [[frames[0], b"\xc1garbage", *frames[2:]]],
        "bad_version": [[frames[0], bad_version, *frames[2:]]],
        "unknown_type": [[frames[0], bad_type, *frames[2:]]],
        "shape": [[frames[0], msgpack.packb(wrong_shape_header), np.zeros(4).tobytes(), frames[3]]],
        "nonfinite": [good(float("nan"))],
        "range": [good(99.0)],
        "oversize": [[frames[0], frames[1], b"\0" * 300_000, frames[3]]],
    }


def test_node_survives_and_counts_malformed_input(tmp_path: Path) -> None:
    feed = f"ipc://{tmp_path}/feed.sock"
    record = tmp_path / "got.jsonl"
    config = tmp_path / "listener.yaml"
    config.write_text(json.dumps({
        "name": "listener", "publish": f"ipc://{tmp_path}/l.pub", "rpc": f"ipc://{tmp_path}/l.rpc",
        "inputs": {"cmd": feed}, "record": str(record), "max_msg_bytes": 200_000,
    }))
    raw = context().socket(zmq.PUB)
    raw.linger = 0
    raw.bind(feed)
    node = subprocess.Popen([sys.executable, "-m", "tests.fixtures.listener", "--config", str(config)], cwd=REPO)
    client = RpcClient(f"ipc://{tmp_path}/l.rpc")
    try:
        client.call("ping", timeout=2.0, retries=10)
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
        assert len(record.read_text().splitlines()) == before + 1, "the valid message after the garbage got through"
    finally:
        client.close()
        node.terminate()
        assert node.wait(timeout=5) == 0, "SIGTERM must stop the node cleanly with exit code 0"
        raw.close()

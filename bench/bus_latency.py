"""Bus latency: amibot's bus beside raw pyzmq on the same payloads, in the same run.

One-hop publish->receive latency (receiver in another process, same monotonic clock) and
request->reply round trip, p50 and p99, for a 7-float command and 64x64x3 / 224x224x3 uint8 frames,
over ipc and tcp. Prints a markdown table with the ratio ours/raw (target: p50 <= 1.3x).

Publish->receive: both sides carry the same content, ours a typed Command or an Observation (the
frame plus 16 floats of proprio and three scalars), raw pyzmq the same fields the plain way (stamps
and scalars packed with struct, the small arrays as one float64 frame, the image as a frame), with
no schema and no checks.
On both sides the clock stops when the receiver holds every field as a value or a numpy array.
Request->reply: an echo of the payload as bytes, through our RpcClient/RpcServer (msgpack bodies) and
through a raw DEALER/ROUTER pair.

Each case alternates raw and ours over several rounds (order flipped each round) and pools the
latencies, so both sides see the same machine: this VM drifts by tens of percent within a minute.

    python bench/bus_latency.py [--n 1000] [--rounds 4] [--out bench/results/bus_latency.md]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.runtime.bus import Publisher, RpcClient, RpcServer, Subscriber  # noqa: E402
from agent.runtime.messages import Command, Observation  # noqa: E402

PAYLOADS = {"command (7 floats)": None, "frame 64x64x3": (64, 64, 3), "frame 224x224x3": (224, 224, 3)}
RAW_META = struct.Struct("<ddqddq")  # raw side: stamp_mono, stamp_wall, seq and the three scalars of either type
PERIOD_S = 0.001  # paced sends: we measure latency, not queueing


def make_message(shape: tuple[int, int, int] | None) -> Command | Observation:
    if shape is None:
        return Command(base_vel=np.zeros(3), arm=np.zeros(3), gripper=0.5, valid_until=0.0, source="bench")
    return Observation(
        head=np.random.randint(0, 255, shape, np.uint8),
        base_pose=np.zeros(3),
        base_vel=np.zeros(3),
        arm=np.zeros(5),
        arm_vel=np.zeros(5),
    )


def raw_parts(shape: tuple[int, int, int] | None) -> tuple[bytes, np.ndarray, list[np.ndarray]]:
    """What make_message carries, laid out the plain pyzmq way: scalars by struct, arrays as raw frames.

    Returns the text tail of the meta frame (the command's source), the small arrays as one float64
    frame and the image frames."""
    if shape is None:
        return b"bench", np.zeros(6), []  # base_vel, arm; the gripper is a scalar
    return b"", np.zeros(16), [np.random.randint(0, 255, shape, np.uint8)]  # pose, vel, arm, arm_vel


def raw_bytes(shape: tuple[int, int, int] | None) -> bytes:
    return np.zeros(7).tobytes() if shape is None else np.random.randint(0, 255, shape, np.uint8).tobytes()


def free_port() -> int:
    """A TCP port nothing listens on now (a fixed range clashed with other runs on this host)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- receivers (child processes) -----------------------------------------------------------
def sub_ours(endpoint: str, n: int, conn) -> None:  # type: ignore[no-untyped-def]
    sub = Subscriber([endpoint], ["x"], hwm=10_000)
    lat: list[float] = []
    got = 0
    while got < n + 1:
        item = sub.recv(timeout=5.0)
        if item is None:
            break
        now = time.monotonic()
        if got == 0:
            conn.send("ready")
        else:
            lat.append(now - item[1].stamp_mono)
        got += 1
    conn.send(lat)
    sub.close()


def sub_raw(endpoint: str, n: int, conn, shape) -> None:  # type: ignore[no-untyped-def]
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.rcvhwm = 10_000
    sock.subscribe(b"x")
    sock.connect(endpoint)
    lat: list[float] = []
    for i in range(n + 1):
        if not sock.poll(5000):
            break
        frames = sock.recv_multipart(copy=False)
        meta = frames[1].buffer  # as on our side, the clock stops once every field is a value or an array
        stamp, _, _, _, _, _ = RAW_META.unpack_from(meta)
        bytes(meta[RAW_META.size :]).decode()
        np.frombuffer(frames[2].buffer, np.float64)
        if shape is not None:
            np.frombuffer(frames[3].buffer, np.uint8).reshape(shape)
        now = time.monotonic()
        if i == 0:
            conn.send("ready")
        else:
            lat.append(now - stamp)
    conn.send(lat)
    sock.close(0)


def rpc_ours(endpoint: str, n: int, conn) -> None:  # type: ignore[no-untyped-def]
    server = RpcServer(endpoint, {"echo": lambda p: p})
    conn.send("ready")
    while not conn.poll():  # serve until told to stop: closing right after a reply would drop it
        if server.sock.poll(10):
            server.handle_pending()
    server.close()


def rpc_raw(endpoint: str, n: int, conn) -> None:  # type: ignore[no-untyped-def]
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    conn.send("ready")
    while not conn.poll():
        if sock.poll(10):
            sock.send_multipart(sock.recv_multipart(copy=False), copy=False)
    sock.close(0)


# ----- senders (this process) ----------------------------------------------------------------
def pubsub(impl: str, endpoint: str, shape, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    parent, child = mp.Pipe()
    args = (endpoint, n, child) if impl == "ours" else (endpoint, n, child, shape)
    proc = mp.get_context("spawn").Process(target=sub_ours if impl == "ours" else sub_raw, args=args)
    if impl == "ours":
        pub = Publisher(endpoint, hwm=10_000)
        msg = make_message(shape)

        def send() -> None:
            msg.stamp_mono = time.monotonic()
            pub.publish("x", msg)

        close = pub.close
    else:
        sock = zmq.Context.instance().socket(zmq.PUB)
        sock.sndhwm = 10_000
        sock.bind(endpoint)
        tail, numbers, images = raw_parts(shape)
        wall = time.time()
        seq = iter(range(1, 1 << 62))

        def send() -> None:
            meta = RAW_META.pack(time.monotonic(), wall, next(seq), 0.5, 0.0, 0) + tail
            sock.send_multipart([b"x", meta, numbers, *images], copy=False)

        def close() -> None:
            sock.close(0)

    proc.start()
    while not parent.poll(0.01):  # slow joiner: publish until the subscriber has one
        send()
    parent.recv()
    for _ in range(n):
        send()
        time.sleep(PERIOD_S)
    lat = parent.recv()
    proc.join()
    close()
    return lat


def reqrep(impl: str, endpoint: str, shape, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=rpc_ours if impl == "ours" else rpc_raw, args=(endpoint, n, child))
    proc.start()
    parent.recv()
    payload = raw_bytes(shape)
    rtt: list[float] = []
    if impl == "ours":
        client = RpcClient(endpoint)
        client.call("echo", {"data": payload}, timeout=5.0)
        for _ in range(n):
            t0 = time.monotonic()
            client.call("echo", {"data": payload}, timeout=5.0)
            rtt.append(time.monotonic() - t0)
        client.close()
    else:
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(endpoint)
        sock.send_multipart([b"", payload])
        sock.recv_multipart()
        for _ in range(n):
            t0 = time.monotonic()
            sock.send_multipart([b"", payload], copy=False)
            sock.recv_multipart(copy=False)
            rtt.append(time.monotonic() - t0)
        sock.close(0)
    parent.send("stop")
    proc.join()
    return rtt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="messages per case")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per case (n split across them)")
    parser.add_argument("--pattern", choices=["pub->sub", "req->rep"], help="only this pattern")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="amibot-bench-")
    rows = [
        "| pattern | payload | transport | ours p50 / p99 (us) | raw pyzmq p50 / p99 (us) | ratio p50 | ratio p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for pattern, fn in (("pub->sub", pubsub), ("req->rep", reqrep)):
        if args.pattern not in (None, pattern):
            continue
        for label, shape in PAYLOADS.items():
            for transport in ("ipc", "tcp"):
                lat: dict[str, list[float]] = {"raw": [], "ours": []}
                for r in range(args.rounds):
                    for impl in ("raw", "ours") if r % 2 == 0 else ("ours", "raw"):
                        port = free_port()
                        ep = f"ipc://{tmp}/{port}.sock" if transport == "ipc" else f"tcp://127.0.0.1:{port}"
                        lat[impl] += fn(impl, ep, shape, args.n // args.rounds)
                res = {impl: np.percentile(np.array(v) * 1e6, [50, 99]) for impl, v in lat.items()}
                (o50, o99), (r50, r99) = res["ours"], res["raw"]
                rows.append(
                    f"| {pattern} | {label} | {transport} | {o50:.0f} / {o99:.0f} | {r50:.0f} / {r99:.0f} "
                    f"| {o50 / r50:.2f}x | {o99 / r99:.2f}x |"
                )
                print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(
        f"\n{table}\n\n{args.n} messages per case in {args.rounds} alternating rounds, paced at "
        f"{PERIOD_S * 1e3:.0f} ms; {os.cpu_count()} CPUs."
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()

"""Fuzzing: 10,000+ random and mutated frames to every socket the safety node listens on; what it lets
through stays within the robot's limits."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import msgpack
import numpy as np
import yaml
import zmq

from agent.runtime.bus import RpcClient, context
from agent.runtime.codec import PLANS, decode, encode
from agent.runtime.config import load_config
from agent.runtime.messages import MESSAGE_TYPES, Command, Observation, Surprise
from agent.runtime.schema import Message
from agent.safety.config import SafetyConfig
from tests.integration.procs import REPO, start_node, wait_ready

N_PER_TOPIC = 3400  # three topics: > 10,000 frames to the subscriber, plus 1,000 to the rpc socket


def frames(topic: str, msg: Message) -> list[bytes]:
    return [f if isinstance(f, bytes) else f.tobytes() for f in encode(topic, msg, validate=False)]


def mutants(topic: str, base: list[bytes], rng: random.Random) -> list[bytes]:
    """One broken variant of a valid message: garbage, truncation, bad header, NaN, range, dtype, size."""
    header = msgpack.unpackb(base[1])  # [type, v, seq, mono, wall, *fields in declared order]
    names = [name for name, _, _ in PLANS[MESSAGE_TYPES[header[0]]].fields]
    kind = rng.randrange(8)
    if (kind in (3, 4) and "arm" not in names) or (kind == 5 and len(base) < 3):  # nothing of that kind to break
        kind = 0
    if kind == 0:
        return [topic.encode(), rng.randbytes(rng.randrange(0, 64)), *base[2:]]
    if kind == 1:
        return base[: rng.randrange(1, len(base))] if len(base) > 2 else [topic.encode()]
    if kind == 2:
        broken = list(header)
        i = rng.choice([0, 1, 2, *range(5, len(header))])  # (a changed stamp is still a valid frame)
        broken[i] = rng.choice([None, "x", -1, 7.5, [], {}])
        return [topic.encode(), msgpack.packb(broken), *base[2:]]
    if kind in (3, 4):  # NaN or out-of-range joint values (arm is bounded in every message that has it)
        broken = list(header)
        i = 5 + names.index("arm")
        broken[i] = [float("nan") if kind == 3 else 1e9] * len(broken[i])
        return [topic.encode(), msgpack.packb(broken), *base[2:]]
    if kind == 5:
        return [topic.encode(), base[1], base[2][:-3], *base[3:]]
    if kind == 6:
        return [topic.encode(), msgpack.packb([*header, 1]), *base[2:]]  # a field this version lacks
    return [topic.encode(), base[1], *base[2:], rng.randbytes(16)]


def within_limits(cmd: Command, cfg: SafetyConfig) -> bool:
    """Whether an output of the safety node respects the hard limits: finite, base speed, joint range, gripper."""
    base, arm = np.asarray(cmd.base_vel), np.asarray(cmd.arm)
    return bool(
        np.isfinite(base).all()
        and np.isfinite(arm).all()
        and (np.abs(base) <= np.asarray(cfg.base.max_vel) + 1e-9).all()
        and (arm >= np.asarray(cfg.arm.lower) - 1e-9).all()
        and (arm <= np.asarray(cfg.arm.upper) + 1e-9).all()
        and cfg.gripper_lower <= cmd.gripper <= cfg.gripper_upper
    )


def test_fuzzed_frames_are_counted_and_move_the_robot_only_within_its_limits(tmp_path: Path) -> None:
    """Live commands that ask for more than the limits, each sent as is and as mutants: every frame is counted,
    commands pass (clamped), and nothing the safety node emits exceeds the limits."""
    rng = random.Random(4)
    eps = {t: f"ipc://{tmp_path}/{t}.sock" for t in ("cmd.proposed", "obs", "surprise")}
    out_ep, rpc_ep = f"ipc://{tmp_path}/safety.pub", f"ipc://{tmp_path}/safety.rpc"
    cfg_path = tmp_path / "safety.yaml"
    base = yaml.safe_load((REPO / "configs/safety/mobile_so101.yaml").read_text())
    base["collision"]["scene"] = ""
    # Commands must stay live while the node works through the backlog, and a mutated surprise must not hold
    # every command for a second: this test is about what passes, not about staleness or surprise.
    base["watchdog"].update(cmd_max_age_s=30.0, surprise_hold_s=0.01)
    cfg_path.write_text(
        json.dumps(
            {
                **base,
                "publish": out_ep,
                "rpc": rpc_ep,
                "inputs": eps,
                "estop_file": str(tmp_path / "estop.json"),
            }
        )
    )
    cfg = load_config(SafetyConfig, cfg_path)
    pubs = {}
    for topic, ep in eps.items():
        pubs[topic] = context().socket(zmq.PUB)
        pubs[topic].linger, pubs[topic].sndhwm = 0, 0  # unlimited: nothing dropped on our side
        pubs[topic].bind(ep)
    out = context().socket(zmq.SUB)
    out.linger, out.rcvhwm = 0, 0  # keep every output until it is checked
    out.setsockopt(zmq.SUBSCRIBE, b"cmd.safe")
    out.connect(out_ep)
    node = start_node("agent.safety", cfg_path)
    client = RpcClient(rpc_ep)

    def observation() -> Observation:
        return Observation(
            head=np.zeros((8, 8, 3), np.uint8),
            base_pose=np.zeros(3),
            base_vel=np.zeros(3),
            arm=np.zeros(5),
            arm_vel=np.zeros(5),
            gripper=0.5,
            stamp_mono=time.monotonic(),
        )

    def valid_frames(seq: int) -> dict[str, list[bytes]]:
        """Fresh, live messages; the command asks for more than the base's speed limits allow."""
        cmd = Command(
            base_vel=np.array([1.0, -1.0, 3.0]),
            arm=np.array([0.5, 0.0, 0.0, 0.0, 0.0]),
            gripper=1.0,
            valid_until=time.monotonic() + 30.0,
            source="fuzz",
            seq=seq,
            stamp_mono=time.monotonic(),
        )
        return {
            "cmd.proposed": frames("cmd.proposed", cmd),
            "obs": frames("obs", observation()),
            "surprise": frames("surprise", Surprise(value=0.1, threshold=1.0)),
        }

    try:
        wait_ready(node, client)
        for _ in range(100):  # subscription live and the node has robot state
            pubs["obs"].send_multipart(frames("obs", observation()))
            time.sleep(0.02)
            if client.call("stats")["counters"].get("in.obs"):
                break
        before = client.call("stats")
        sent = 0
        for i in range(N_PER_TOPIC):
            valid = valid_frames(i + 1)  # each command newer than the last: none is out of order
            for topic, frame in valid.items():
                if i % 10 == 0:  # garbage that matches no subscription
                    pubs[topic].send_multipart([rng.randbytes(8) + b"x"])
                    continue
                pubs[topic].send_multipart(frame if i % 10 == 5 else mutants(topic, frame, rng))
                sent += 1
            if i % 200 == 0:
                time.sleep(0.01)
        raw = context().socket(zmq.DEALER)
        raw.linger = 0
        raw.connect(rpc_ep)
        for _ in range(1000):
            raw.send_multipart(rng.choice([[b"", rng.randbytes(rng.randrange(1, 40))], [rng.randbytes(5)]]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = client.call("stats", timeout=2.0)
            counted = sum(v for k, v in stats["rejected"].items() if not k.startswith("rpc."))
            counted += sum(stats["counters"].get(k, 0) for k in ("in.obs", "proposed", "in.surprise"))
            counted += sum(stats["superseded"].values()) - sum(before["superseded"].values())  # obs: newest only
            counted -= sum(before["rejected"].values()) + sum(
                before["counters"].get(k, 0) for k in ("in.obs", "proposed", "in.surprise")
            )
            rpc_counted = sum(v for k, v in stats["rejected"].items() if k.startswith("rpc."))
            if counted >= sent and rpc_counted >= 1000:
                break
            time.sleep(0.2)
        raw.close()
        assert node.poll() is None, "the safety node died"
        assert counted == sent and rpc_counted == 1000, (counted, sent, stats)
        emitted = []
        while out.poll(0):
            _, msg = decode(out.recv_multipart())
            assert isinstance(msg, Command)
            emitted.append(msg)
        beyond = [m for m in emitted if not within_limits(m, cfg)]
        assert not beyond, f"{len(beyond)} of {len(emitted)} outputs beyond the limits, first {beyond[0]}"
        assert stats["counters"].get("passed", 0) > 0, stats  # live commands went through, clamped
        assert any(np.any(m.base_vel) for m in emitted), "nothing moved: the limits were never exercised"
    finally:
        client.close()
        out.close()
        for s in pubs.values():
            s.close()
        node.terminate()
        assert node.wait(timeout=10) == 0

"""The sim backend as a real process: observations out, commands in, deadman, rejects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq

from agent.runtime.bus import RpcClient, RpcError, Subscriber, context
from agent.runtime.codec import encode
from agent.runtime.messages import Command, Observation
from tests.integration.procs import start_node, wait_ready

N_ARM = 5


class SimProc:
    """A sim node process whose command input is a PUB socket owned by the test."""

    def __init__(self, tmp: Path, **params: object) -> None:
        self.feed = f"ipc://{tmp}/feed.sock"
        self.log = tmp / "steps.jsonl"
        cfg = {
            "name": "sim",
            "publish": f"ipc://{tmp}/sim.pub",
            "rpc": f"ipc://{tmp}/sim.rpc",
            "inputs": {"cmd.safe": self.feed},
            "task": "navigate",
            "seed": 1,
            "mode": "lockstep",
            "lockstep_wait_s": 0.02,
            "log_path": str(self.log),
            **params,
        }
        (tmp / "sim.yaml").write_text(json.dumps(cfg))
        self.pub = context().socket(zmq.PUB)
        self.pub.linger = 0
        self.pub.bind(self.feed)
        self.proc = start_node("sim.node", tmp / "sim.yaml")
        self.rpc = RpcClient(f"ipc://{tmp}/sim.rpc")
        wait_ready(self.proc, self.rpc)
        self.obs = Subscriber([f"ipc://{tmp}/sim.pub"], ["obs"], latest=["obs"])

    def send(self, msg: Command | list[bytes], validate: bool = True) -> None:
        frames = msg if isinstance(msg, list) else encode("cmd.safe", msg, validate=validate)
        self.pub.send_multipart(frames)

    def steps(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def close(self) -> None:
        self.rpc.close()
        self.obs.close()
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0
        self.pub.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProc]:
    proc = SimProc(tmp_path)
    yield proc
    proc.close()


def drive(vx: float = 0.3, seq: int = 0, **kw: object) -> Command:
    args = dict(
        base_vel=np.array([vx, 0.0, 0.0]),
        arm=np.zeros(N_ARM),
        gripper=1.0,
        valid_until=time.monotonic() + 1.0,
        source="test",
        seq=seq,
    )
    args.update(kw)
    return Command(**args)  # type: ignore[arg-type]


def wait_steps(sim: SimProc, n: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sim.steps()
        if len(rows) >= n:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"only {len(sim.steps())} steps logged")


def next_obs(sim: SimProc, timeout: float = 10.0) -> Observation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sim.obs.recv(timeout=0.5)
        if got is not None and got[0] == "obs":
            return got[1]  # type: ignore[return-value]
    raise AssertionError("no observation")


def test_publishes_observations_with_declared_shapes(sim: SimProc) -> None:
    obs = next_obs(sim)
    assert isinstance(obs, Observation)
    assert obs.head.shape == (64, 64, 3) and obs.head.dtype == np.uint8
    assert obs.wrist is not None and obs.wrist.shape == (64, 64, 3)
    assert obs.arm.shape == (N_ARM,) and obs.base_pose.shape == (3,)
    features = sim.rpc.call("features")
    assert features["observation"]["arm"]["shape"] == [N_ARM]
    assert sim.rpc.call("scene") == {"scene": "apartment", "seed": 1, "task": "navigate", "episode": 1}
    with pytest.raises(RpcError, match="layout_seed"):  # the scene rpc could not name that apartment
        sim.rpc.call("reset", {"task": "navigate", "seed": 4, "args": {"layout_seed": "9"}})
    sim.rpc.call("reset", {"task": "navigate", "seed": 4})
    assert sim.rpc.call("scene")["seed"] == 4
    deadline = time.monotonic() + 10
    while next_obs(sim).episode != 2:  # older observations may still be queued
        assert time.monotonic() < deadline, "no observation of the new episode"


def test_deadman_stops_the_base_within_its_timeout_in_sim_time(sim: SimProc) -> None:
    for i in range(1, 16):  # drive forward for a while, one command per lockstep step
        sim.send(drive(0.3, seq=i))
        wait_steps(sim, i)
    rows = wait_steps(sim, 40)
    commanded = [r for r in rows if r["commanded"]]
    assert commanded and max(abs(r["base_vel"][0]) for r in commanded) > 0.1, "the base never moved"
    t_last = commanded[-1]["t"]
    after = [r for r in rows if r["t"] > t_last]
    # No command past the deadman time: stopping; then at rest and holding.
    assert all(not r["commanded"] for r in after if r["t"] > t_last + 0.25 + 1e-6)
    settled = [r for r in after if r["t"] >= t_last + 0.25 + 0.6]
    assert settled and all(np.abs(r["base_vel"]).max() < 0.02 for r in settled), settled[:3]
    assert sim.rpc.call("stats")["counters"]["deadman_stops"] >= 1


def test_bad_commands_are_rejected_counted_and_move_nothing(sim: SimProc) -> None:
    good = drive()
    sim.send(drive(float("nan")), validate=False)  # codec: nonfinite
    sim.send(drive(40.0), validate=False)  # codec: range
    sim.send(drive(arm=np.zeros(N_ARM + 2)))  # sim: wrong number of joints
    sim.send(drive(valid_until=time.monotonic() - 5.0))  # sim: expired
    sim.send(drive(episode=7))  # sim: checked against another episode's state (this is episode 1)
    frames = encode("cmd.safe", good)
    sim.send([frames[0], b"\x00garbage", *frames[2:]])  # codec: bad header
    rows = wait_steps(sim, 12)
    stats = sim.rpc.call("stats")
    assert stats["rejected"].get("nonfinite") == 1 and stats["rejected"].get("range") == 1
    assert stats["rejected"].get("bad_header") == 1
    assert stats["counters"].get("rejected_shape") == 1 and stats["counters"].get("rejected_expired") == 1
    assert stats["counters"].get("rejected_episode") == 1
    assert not any(r["commanded"] for r in rows)
    assert all(np.abs(r["base_vel"]).max() < 1e-3 for r in rows)
    assert sim.proc.poll() is None


def test_stop_rpc_drops_the_command(sim: SimProc) -> None:
    sim.send(drive(0.3, seq=1))
    wait_steps(sim, 2)
    assert sim.rpc.call("stop")["latched"] is False
    n = len(sim.steps())
    rows = wait_steps(sim, n + 10)[n:]
    assert not any(r["commanded"] for r in rows)


def drive_for(sim: SimProc, steps: int) -> None:
    for i in range(1, steps + 1):
        sim.send(drive(0.3, seq=i))
        wait_steps(sim, i)


def test_latched_stop_refuses_every_command_and_brakes_to_rest_by_itself(tmp_path: Path) -> None:
    sim = SimProc(tmp_path, lockstep_wait_s=30.0)  # lockstep: no step without a command, unless latched
    try:
        drive_for(sim, 6)
        reply = sim.rpc.call("stop", {"latch": True})
        assert reply["latched"] and not reply["at_rest"], reply
        n = len(sim.steps())
        deadline = time.monotonic() + 10
        while not sim.rpc.call("stop", {"latch": True})["at_rest"]:
            sim.send(drive(0.3, seq=100 + n))
            assert time.monotonic() < deadline, "never at rest after a latched stop"
            time.sleep(0.05)
        rows = sim.steps()[n:]
        assert rows and not any(r["commanded"] for r in rows)
        assert np.abs(rows[-1]["base_vel"]).max() < 0.005
        assert sim.rpc.call("stats")["counters"]["rejected_stop_latched"] >= 1
    finally:
        sim.close()


def test_sigterm_brings_the_base_to_rest_before_the_node_exits(tmp_path: Path) -> None:
    sim = SimProc(tmp_path, lockstep_wait_s=30.0)
    drive_for(sim, 6)
    assert np.abs(sim.steps()[-1]["base_vel"]).max() > 0.1
    sim.close()  # SIGTERM while moving, exit code 0
    assert np.abs(sim.steps()[-1]["base_vel"]).max() < 0.005

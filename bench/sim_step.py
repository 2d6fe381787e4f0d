"""Sim node throughput in lock-step mode beside raw PyBullet on the same scene, in the same run.

Physics: the node with rendering off, driven as fast as it answers, against a raw loop of
p.stepSimulation() over the same world. Rendering: the node with both 64x64 cameras on, against a raw
loop doing the same physics substeps plus the same two p.getCameraImage() calls per control step.
Targets: >= 0.9x the raw physics rate, >= 0.8x the raw render rate.

One node process and one raw world live through each measurement; they take turns in short blocks
(the order flipped each time), so a machine whose speed drifts by the second moves both sides of a
block's ratio alike. The reported ratio is the median of the blocks' ratios.

    python bench/sim_step.py [--blocks 12] [--block-steps 40] [--task navigate]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]
SPEED = 0.03  # m/s: both sides drive the base at this speed (slow: the episode must not end mid-run)
IN_FLIGHT = 4  # commands queued ahead in lock-step
sys.path.insert(0, str(REPO))

from agent.pybullet_quiet import pybullet as p  # noqa: E402
from agent.robot.config import load_robot_config  # noqa: E402
from agent.runtime.bus import RpcClient, RpcTimeout  # noqa: E402
from agent.runtime.codec import encode  # noqa: E402
from agent.runtime.messages import Command  # noqa: E402
from sim.cameras import look_matrices, render, setup_renderer  # noqa: E402
from sim.node import SimNodeConfig  # noqa: E402
from sim.tasks import load_task_config  # noqa: E402
from sim.world import SimWorld  # noqa: E402


class RawLoop:
    """A bare PyBullet loop over the same scene: the substeps, and the two camera renders if on."""

    def __init__(self, task: str, render_on: bool, renderer: str) -> None:
        self.world = world = SimWorld(render=False)
        self.engine = setup_renderer(world.client, renderer)
        self.render_on = render_on
        world.reset(task, seed=0)
        world.apply(np.array([SPEED, 0.0, 0.0]), np.array(world.robot.arm.stow), 1.0)
        world.step()  # the base motors now hold the same speed the node is driven at

    def run(self, steps: int) -> float:
        """Seconds for `steps` control steps."""
        world, rob = self.world, self.world.robot_state
        assert rob is not None
        start = time.perf_counter()
        for _ in range(steps):
            for _ in range(world.substeps):
                p.stepSimulation(physicsClientId=world.client)
            if self.render_on:
                for cam in ("head", "wrist"):
                    spec = world.robot.cameras[cam]
                    pos, orn = rob.link_frame(rob.link_index[spec.link])
                    view, proj = look_matrices(pos, orn, spec, world.image_size)
                    render(world.client, view, proj, world.image_size, world.layout.light, spec.near, spec.far,
                           False, self.engine)  # fmt: skip
        return time.perf_counter() - start

    def close(self) -> None:
        self.world.close()


class NodeDriver:
    """The sim node as its own process in lock-step, fed by a client that keeps commands queued.

    The client shares the machine's cores with the node, and its cost is not the node's: it encodes
    every command before any clock starts and counts observations by their topic frame, on plain
    ZeroMQ sockets. The node still decodes, checks and applies each command, and encodes and
    publishes each observation, as it does in the graph."""

    def __init__(self, task: str, render_on: bool, renderer: str, total_steps: int) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="amibot-simbench-"))
        feed = f"ipc://{tmp}/cmd.sock"
        cfg = {
            "name": "sim",
            "publish": f"ipc://{tmp}/sim.pub",
            "rpc": f"ipc://{tmp}/sim.rpc",
            "inputs": {"cmd.safe": feed},
            "task": task,
            "seed": 0,
            "mode": "lockstep",
            "render": render_on,
            "renderer": renderer,
            "lockstep_wait_s": 60.0,  # between blocks the node waits for commands, it does not step
            "log_level": "WARNING",
        }
        (tmp / "sim.yaml").write_text(json.dumps(cfg))
        ctx = zmq.Context.instance()
        self.pub = ctx.socket(zmq.PUB)
        self.pub.bind(feed)
        self.proc = subprocess.Popen([sys.executable, "-m", "sim.node", "--config", str(tmp / "sim.yaml")], cwd=REPO)
        self.rpc = RpcClient(f"ipc://{tmp}/sim.rpc")
        while True:
            try:
                self.rpc.call("ping", timeout=0.5, retries=0)
                break
            except RpcTimeout:
                if self.proc.poll() is not None:
                    raise RuntimeError("sim node died") from None
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"obs")
        self.sub.connect(cfg["publish"])
        self.commands = iter(_commands(total_steps + 100, load_robot_config("mobile_so101").arm.stow))
        while not self._obs(timeout_ms=200):  # slow joiner: until the node has a command through
            self.pub.send_multipart(next(self.commands))
        while self._obs(timeout_ms=200):  # the node is idle, nothing of the warm-up left queued
            pass

    def _obs(self, timeout_ms: int) -> bool:
        if not self.sub.poll(timeout_ms):
            return False
        self.sub.recv_multipart(copy=False)
        return True

    def run(self, steps: int) -> float:
        """Seconds for `steps` control steps: first command sent to the last step's observation."""
        pub, commands = self.pub, self.commands
        start = time.perf_counter()
        sent = 0
        for _ in range(min(IN_FLIGHT, steps)):
            pub.send_multipart(next(commands))
            sent += 1
        for _ in range(steps):
            if not self._obs(timeout_ms=10_000):
                raise RuntimeError("the sim node stopped stepping (did its episode end? lower the step count)")
            if sent < steps:
                pub.send_multipart(next(commands))
                sent += 1
        return time.perf_counter() - start

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        for s in (self.sub, self.pub, self.rpc):
            s.close()


def _commands(n: int, arm: list[float]) -> list[list[bytes]]:
    """n encoded commands in sequence that drive the base at SPEED with the arm held at `arm`."""
    out = []
    for seq in range(1, n + 1):
        cmd = Command(base_vel=np.array([SPEED, 0.0, 0.0]), arm=np.array(arm), gripper=1.0,
                      valid_until=time.monotonic() + 3600.0, source="bench", seq=seq,
                      stamp_mono=time.monotonic(), stamp_wall=time.time())  # fmt: skip
        out.append([bytes(f) for f in encode("cmd.safe", cmd)])
    return out


def compare(task: str, render_on: bool, blocks: int, block_steps: int, renderer: str) -> tuple[float, float, float]:
    """Control steps/s of the node and of raw pybullet over all blocks, and the median block ratio."""
    raw = RawLoop(task, render_on, renderer)
    node = NodeDriver(task, render_on, renderer, blocks * block_steps)
    raw.run(2)  # both sides warm
    node.run(2)
    node_s, raw_s = [], []
    try:
        for b in range(blocks):
            if b % 2 == 0:
                raw_s.append(raw.run(block_steps))
                node_s.append(node.run(block_steps))
            else:
                node_s.append(node.run(block_steps))
                raw_s.append(raw.run(block_steps))
    finally:
        node.close()
        raw.close()
    ratio = float(np.median(np.array(raw_s) / np.array(node_s)))  # rates' ratio = inverse of times'
    n = blocks * block_steps
    return n / sum(node_s), n / sum(raw_s), ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=12, help="turns per side (ratio: median over blocks)")
    parser.add_argument("--block-steps", type=int, default=40, help="control steps per turn")
    parser.add_argument("--task", default="navigate")
    parser.add_argument("--renderer", default="tiny", choices=["tiny", "egl"], help="both sides render with it")
    args = parser.parse_args()
    limit = load_task_config(args.task).max_steps
    if (args.blocks + 1) * args.block_steps + 10 > limit:  # + warm-up: the episode must not end mid-run
        parser.error(f"blocks x block-steps must stay under the {args.task} episode's {limit}-step limit")
    substeps = round(SimNodeConfig.physics_hz / SimNodeConfig.control_hz)  # both sides run the node's defaults
    rows = ["| measure | sim node | raw pybullet | ratio | target |", "|---|---|---|---|---|"]
    node_phys, raw_phys, ratio = compare(args.task, False, args.blocks, args.block_steps, "tiny")
    rows.append(
        f"| physics steps/s (render off) | {node_phys * substeps:.0f} | {raw_phys * substeps:.0f} | "
        f"{ratio:.2f}x | >= 0.9x |"
    )
    node_render, raw_render, ratio = compare(args.task, True, args.blocks, args.block_steps, args.renderer)
    rows.append(
        f"| rendered frames/s (2 cameras, 64x64, {args.renderer}) | {node_render * 2:.0f} | {raw_render * 2:.0f} | "
        f"{ratio:.2f}x | >= 0.8x |"
    )
    print("\n".join(rows))
    print(
        f"\nratio: median over {args.blocks} alternating blocks of {args.block_steps} control steps "
        f"({substeps} physics substeps each); rates: all blocks; task {args.task}, zmq {zmq.zmq_version()}"
    )


if __name__ == "__main__":
    main()

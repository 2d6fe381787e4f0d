"""Sim node throughput in lock-step mode beside raw PyBullet on the same scene, in the same run.

Physics: the node with rendering off, driven as fast as it answers, against a raw loop of
p.stepSimulation() over the same world. Rendering: the node with both 64x64 cameras on, against a raw
loop doing the same physics substeps plus the same two p.getCameraImage() calls per control step.
Targets: >= 0.9x the raw physics rate, >= 0.8x the raw render rate.

    python bench/sim_step.py [--steps 300] [--task navigate]
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
import pybullet as p
import zmq

REPO = Path(__file__).resolve().parents[1]
SPEED = 0.05  # m/s: both sides drive the base at this speed
IN_FLIGHT = 4  # commands queued ahead in lock-step
sys.path.insert(0, str(REPO))

from agent.runtime.bus import Publisher, RpcClient, RpcTimeout, Subscriber  # noqa: E402
from agent.runtime.messages import Command  # noqa: E402
from sim.cameras import look_matrices, render, setup_renderer  # noqa: E402
from sim.robot_config import load_robot_config  # noqa: E402
from sim.world import SimWorld  # noqa: E402


def raw_rates(task: str, steps: int, render_on: bool, renderer: str = "tiny") -> float:
    """Control steps/s of a bare PyBullet loop over the same scene."""
    world = SimWorld(render=False)
    engine = setup_renderer(world.client, renderer)
    world.reset(task, seed=0)
    rob = world.robot_state
    assert rob is not None
    world.apply(np.array([SPEED, 0.0, 0.0]), np.array(world.robot.arm.stow), 1.0)
    world.step()  # the base motors now hold the same speed the node is driven at
    start = time.perf_counter()
    for _ in range(steps):
        for _ in range(world.substeps):
            p.stepSimulation(physicsClientId=world.client)
        if render_on:
            for cam in ("head", "wrist"):
                spec = world.robot.cameras[cam]
                pos, orn = rob.link_frame(rob.link_index[spec.link])
                view, proj = look_matrices(pos, orn, spec, world.image_size)
                render(world.client, view, proj, world.image_size, world.layout.light, spec.near, spec.far, False,
                       engine)  # fmt: skip
    rate = steps / (time.perf_counter() - start)
    world.close()
    return rate


def node_rate(task: str, steps: int, render_on: bool, renderer: str = "tiny") -> float:
    """Control steps/s of the sim node in lock-step, fed by a client that keeps commands queued."""
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
        "lockstep_wait_s": 5.0,
        "log_level": "WARNING",
    }
    (tmp / "sim.yaml").write_text(json.dumps(cfg))
    pub = Publisher(feed)
    proc = subprocess.Popen([sys.executable, "-m", "sim.node", "--config", str(tmp / "sim.yaml")], cwd=REPO)
    rpc = RpcClient(f"ipc://{tmp}/sim.rpc")
    while True:
        try:
            rpc.call("ping", timeout=0.5, retries=0)
            break
        except RpcTimeout:
            if proc.poll() is not None:
                raise RuntimeError("sim node died") from None
    stow = np.array(load_robot_config("mobile_so101").arm.stow)  # hold the arm where the raw loop holds it
    sub = Subscriber([cfg["publish"]], ["obs"], latest=["obs"])
    time.sleep(0.5)

    def command() -> Command:
        return Command(
            base_vel=np.array([SPEED, 0.0, 0.0]),
            arm=stow,
            gripper=1.0,
            valid_until=time.monotonic() + 1.0,
            source="bench",
        )

    seen = 0
    start = None
    for _ in range(IN_FLIGHT):  # keep a few commands queued so the node never waits on this client
        pub.publish("cmd.safe", command())
    while seen < steps + 5:
        got = sub.recv(timeout=5.0)
        if got is None:
            for _ in range(IN_FLIGHT):  # commands lost to the slow joiner: send again
                pub.publish("cmd.safe", command())
            continue
        if got[0] != "obs":
            continue
        seen += 1
        if seen == 5:
            start = time.perf_counter()
        pub.publish("cmd.safe", command())
    rate = steps / (time.perf_counter() - start)  # type: ignore[operator]
    proc.terminate()
    proc.wait()
    for s in (sub, pub, rpc):
        s.close()
    return rate


def median_rates(
    task: str, steps: int, render_on: bool, rounds: int, renderer: str = "tiny"
) -> tuple[float, float, float]:
    """Median control steps/s of the node and of raw pybullet, and the median of the per-round ratios.

    Raw and node alternate (order flipped each round) and each round's ratio pairs two neighbouring
    runs, so a machine that drifts within the run moves both sides of a ratio alike."""
    node, raw = [], []
    for r in range(rounds):
        if r % 2 == 0:
            raw.append(raw_rates(task, steps, render_on, renderer))
            node.append(node_rate(task, steps, render_on, renderer))
        else:
            node.append(node_rate(task, steps, render_on, renderer))
            raw.append(raw_rates(task, steps, render_on, renderer))
    ratio = float(np.median(np.array(node) / np.array(raw)))
    return float(np.median(node)), float(np.median(raw)), ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="control steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements per side (median)")
    parser.add_argument("--task", default="navigate")
    parser.add_argument("--renderer", default="tiny", choices=["tiny", "egl"], help="both sides render with it")
    args = parser.parse_args()
    substeps = 24
    rows = ["| measure | sim node | raw pybullet | ratio | target |", "|---|---|---|---|---|"]
    node_phys, raw_phys, ratio = median_rates(args.task, args.steps, False, args.rounds)
    rows.append(
        f"| physics steps/s (render off) | {node_phys * substeps:.0f} | {raw_phys * substeps:.0f} | "
        f"{ratio:.2f}x | >= 0.9x |"
    )
    node_render, raw_render, ratio = median_rates(args.task, args.steps, True, args.rounds, args.renderer)
    rows.append(
        f"| rendered frames/s (2 cameras, 64x64, {args.renderer}) | {node_render * 2:.0f} | {raw_render * 2:.0f} | "
        f"{ratio:.2f}x | >= 0.8x |"
    )
    print("\n".join(rows))
    print(
        f"\nratio: median of per-round ratios; rates: medians of {args.rounds} alternating runs of "
        f"{args.steps} control steps ({substeps} physics substeps "
        f"each), task {args.task}, zmq {zmq.zmq_version()}"
    )


if __name__ == "__main__":
    main()

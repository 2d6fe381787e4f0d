"""Run one expert episode (optionally recording a video); also the `amibot sim` entry point."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.robot.config import RobotConfig, load_robot_config
from sim.expert import Expert
from sim.video import VideoWriter, third_person_frame
from sim.world import SimWorld


@dataclass
class EpisodeResult:
    """Outcome of one episode."""

    task: str
    seed: int
    success: bool
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)


def run_episode(
    task: str,
    seed: int,
    robot: str | RobotConfig = "mobile_so101",
    gui: bool = False,
    video: Path | None = None,
    world: SimWorld | None = None,
) -> EpisodeResult:
    """Reset `task` at `seed`, let the expert act until done; record head + third-person video."""
    own = world is None
    if world is None:
        world = SimWorld(robot, render=video is not None, gui=gui, image_size=(128, 128))
    writer = VideoWriter(Path(video), fps=world.control_hz) if video is not None else None
    expert = None
    try:
        obs = world.reset(task, seed)
        expert = Expert(world)
        status = world.task_status()
        while not status.done:
            world.apply(*expert.act())
            world.step()
            if writer is not None:
                obs = world.observe()
                writer.write(np.hstack([_upscale(obs["head"], 256), third_person_frame(world)]))
            status = world.task_status()
        return EpisodeResult(task, seed, status.success, status.steps, status.metrics, dict(world.task.args))
    finally:
        if expert is not None:  # its IK client, also when the episode raised
            expert.close()
        if writer is not None:
            writer.close()
        if own:
            world.close()


def _upscale(img: np.ndarray, size: int) -> np.ndarray:
    reps = max(1, size // img.shape[0])
    return np.kron(img, np.ones((reps, reps, 1), dtype=np.uint8))[:size, :size]


def main(argv: list[str] | None = None) -> int:
    """`amibot sim --task fetch --seed N [--gui] [--video out.mp4]`."""
    ap = argparse.ArgumentParser(prog="amibot sim", description="Run one scripted-expert episode.")
    ap.add_argument("--task", default="fetch", choices=["navigate", "pick", "place", "fetch"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--robot", default="mobile_so101")
    ap.add_argument("--gui", action="store_true")
    ap.add_argument("--video", type=Path, default=None)
    a = ap.parse_args(argv)
    try:
        robot = load_robot_config(a.robot)
    except ValueError as exc:  # names the known robots
        print(f"error: --robot: {exc}", file=sys.stderr)
        return 2
    r = run_episode(a.task, a.seed, robot=robot, gui=a.gui, video=a.video)
    metrics = " ".join(f"{k}={v:.3f}" for k, v in sorted(r.metrics.items()))
    print(f"task={r.task} seed={r.seed} args={r.args} success={r.success} steps={r.steps} {metrics}")
    return 0 if r.success else 1


if __name__ == "__main__":
    sys.exit(main())

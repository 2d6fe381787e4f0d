"""`amibot record --expert`: generate demonstrations with the sim expert in parallel workers."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from agent.data.spec import ENV_NAMES, spec_from_features
from agent.data.writer import DatasetWriter
from sim.expert_episodes import EpisodeData, Job, init_worker, run_job
from sim.tasks import TASKS
from sim.world import SimWorld


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="amibot record", description=__doc__)
    ap.add_argument(
        "--expert",
        action="store_true",
        required=True,
        help="demonstrations from the scripted sim expert (by hand: amibot teleop)",
    )
    ap.add_argument("--task", default="fetch", choices=TASKS)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--workers", type=int, default=max(1, (mp.cpu_count() or 2) - 1))
    ap.add_argument("--out", type=Path, required=True, help="dataset root (LeRobot v3.0 layout)")
    ap.add_argument("--seed", type=int, default=0, help="episode i uses seed SEED + i")
    ap.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="action noise std as a fraction of the limits (0: clean expert)",
    )
    ap.add_argument(
        "--perturb",
        type=float,
        default=0.02,
        help="chance per step of a short random base push the expert must recover from",
    )
    ap.add_argument(
        "--layout-seed",
        type=int,
        help="record every episode in this one apartment (default: each episode's seed also picks its apartment)",
    )
    ap.add_argument("--max-steps", type=int, default=0, help="cut episodes here (0: task limit)")
    ap.add_argument("--robot", default="mobile_so101")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--fps", type=int, default=10, help="control rate = dataset fps")
    ap.add_argument("--resume", action="store_true", help="append to an existing dataset")
    ap.add_argument("--only-success", action="store_true", help="keep only successful episodes")
    ap.add_argument(
        "--privileged-obs",
        action="store_true",
        help="store the privileged sim state as observation.environment_state, an input LeRobot policies "
        "(ACT, diffusion) then train on; default: privileged.environment_state, which they ignore. "
        "On --resume the dataset keeps its own layout",
    )
    return ap  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    size = (a.image_size, a.image_size)
    with SimWorld(a.robot, image_size=size, control_hz=a.fps, render=False) as probe:
        spec = spec_from_features(probe.features, a.robot, ENV_NAMES, a.privileged_obs)
    try:
        writer = DatasetWriter(a.out, None if a.resume else spec, resume=a.resume)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    first = writer.num_episodes
    jobs = [Job(first + i, a.task, a.seed + first + i, a.noise, a.perturb, a.max_steps, a.layout_seed)
            for i in range(a.episodes)]  # fmt: skip
    t0 = time.monotonic()
    kept = frames = successes = 0
    ctx = mp.get_context("spawn")
    with writer, ctx.Pool(a.workers, init_worker, (a.robot, size, float(a.fps))) as pool:
        bar = tqdm(pool.imap_unordered(run_job, jobs), total=len(jobs), unit="ep", desc="record")
        for ep in bar:
            successes += ep.success
            if a.only_success and not ep.success:
                continue
            save(writer, ep)
            kept += 1
            frames += len(ep.action)
            bar.set_postfix(frames=frames, success=f"{successes / (bar.n + 1):.0%}")
    dt = time.monotonic() - t0
    print(f"recorded {kept} episode(s), {frames} frames to {a.out} in {dt:.1f}s "
          f"({frames / max(dt, 1e-9):.0f} frames/s, {a.workers} workers); "
          f"success {successes}/{len(jobs)} ({successes / max(len(jobs), 1):.0%})")  # fmt: skip
    return 0


def save(writer: DatasetWriter, ep: EpisodeData) -> int:
    """Write one generated episode (its frames, then one atomic commit)."""
    writer.start_episode(ep.instruction)
    env = bool(writer.spec.env_names)  # a dataset recorded before environment_state existed has none
    for t in range(len(ep.action)):
        images = {cam: frames[t] for cam, frames in ep.images.items()}
        writer.add_frame(ep.state[t], ep.action[t], images, float(ep.capture_time[t]), ep.env_state[t] if env else None)
    return writer.save_episode(**ep.extras())


if __name__ == "__main__":
    raise SystemExit(main())

"""Success table of the scripted expert: `python -m sim.eval_expert --task fetch --episodes 50`."""

from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

from sim.layout import load_scene_config
from sim.run_episode import EpisodeResult, run_episode
from sim.tasks import TASKS
from sim.world import SimWorld


def evaluate(task: str, episodes: int, robot: str, split: str) -> list[EpisodeResult]:
    """Run `episodes` seeded expert episodes of `task` on the train or held-out eval layouts."""
    start = load_scene_config().eval_seeds.start if split == "eval" else 0
    world = SimWorld(robot, render=False)
    try:
        results = []
        for seed in tqdm(range(start, start + episodes), desc=task, unit="ep", file=sys.stderr):
            results.append(run_episode(task, seed, robot=robot, world=world))
        return results
    finally:
        world.close()


def table_row(task: str, results: list[EpisodeResult]) -> str:
    success = np.array([r.success for r in results], dtype=float)
    steps = np.mean([r.steps for r in results])
    spl = np.mean([r.metrics.get("spl", np.nan) for r in results])
    spl_text = f"{spl:.3f}" if task == "navigate" else "-"
    return f"| {task:<8} | {len(results):>8} | {success.mean():>7.1%} | {steps:>10.1f} | {spl_text:>5} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate the scripted expert.")
    ap.add_argument("--task", default="fetch", choices=[*TASKS, "all"])
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--robot", default="mobile_so101")
    ap.add_argument("--split", default="eval", choices=["train", "eval"])
    a = ap.parse_args(argv)
    tasks = TASKS if a.task == "all" else (a.task,)
    results = {t: evaluate(t, a.episodes, a.robot, a.split) for t in tasks}
    print(f"robot={a.robot} split={a.split}")
    print("| task     | episodes | success | mean steps |   SPL |")
    print("|----------|----------|---------|------------|-------|")
    print("\n".join(table_row(t, r) for t, r in results.items()))
    for t, rs in results.items():
        failed = [r.seed for r in rs if not r.success]
        if failed:
            print(f"{t} failed seeds: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

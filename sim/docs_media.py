"""Regenerate the pictures in docs/img: apartment render, expert fetch clip and frame strip."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from sim.expert import Expert
from sim.run_episode import _upscale
from sim.video import VideoWriter, third_person_frame, top_down_frame
from sim.world import SimWorld


def _save_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--frame-skip", type=int, default=2, help="keep every n-th control step")
    a = ap.parse_args(argv)
    world = SimWorld(image_size=(96, 96))
    try:
        world.reset("fetch", a.seed)
        _save_png(a.out / "apartment.png", top_down_frame(world))
        expert = Expert(world)
        writer = VideoWriter(a.out / "expert_fetch.mp4", fps=world.control_hz / a.frame_skip, crf=32)
        frames = []
        status = world.task_status()
        while not status.done:
            world.apply(*expert.act())
            world.step()
            status = world.task_status()
            if status.steps % a.frame_skip == 0 or status.done:
                frame = np.hstack(
                    [
                        _upscale(world.observe()["head"], 192),
                        _upscale(world.observe()["wrist"], 192)[:, :, :],
                        third_person_frame(world, size=192),
                    ]
                )
                writer.write(frame)
                frames.append(frame)
        writer.close()
        expert.close()
        picks = np.linspace(0, len(frames) - 1, 6).astype(int)
        _save_png(a.out / "expert_fetch_strip.png", np.vstack([frames[i] for i in picks]))
        print(f"fetch seed={a.seed} success={status.success} steps={status.steps}")
    finally:
        world.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

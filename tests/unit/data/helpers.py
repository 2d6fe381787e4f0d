"""Synthetic episodes for dataset tests (no sim needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.data.spec import DatasetSpec
from agent.data.writer import DatasetWriter

SPEC = DatasetSpec(
    fps=10,
    robot_type="test_bot",
    state_names=["x", "y", "yaw", "j0", "j1", "gripper"],
    action_names=["vx", "vy", "wz", "j0.target", "j1.target", "gripper"],
    image_shape=(32, 48),
)


def image(ep: int, t: int, cam: int) -> np.ndarray:
    """A smooth, frame-specific picture (codec-friendly) for camera `cam`."""
    h, w = SPEC.image_shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = (ep * 40 + t * 7 + cam * 90) % 200
    img = np.stack([base + xx, base + yy, np.full_like(xx, 30 + 60 * cam)], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def episode_arrays(ep: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(ep)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.normal(size=(n, 6)).astype(np.float32)


def write_episode(w: DatasetWriter, ep: int, n: int, task: str = "pick up the cube") -> None:
    state, action = episode_arrays(ep, n)
    w.start_episode(task)
    for t in range(n):
        imgs = {"head": image(ep, t, 0), "wrist": image(ep, t, 1)}
        w.add_frame(state[t], action[t], imgs, capture_time=100.0 * ep + t / 10)
    w.save_episode(seed=ep, sim_task="pick", success=bool(ep % 2))


def make_dataset(root: Path, lengths: list[int]) -> Path:
    with DatasetWriter(root, SPEC) as w:
        for ep, n in enumerate(lengths):
            write_episode(w, ep, n, task=f"task {ep % 2}")
    return root

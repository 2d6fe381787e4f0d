"""Clip datasets for encoder training: LeRobot datasets, .npz episode directories and synthetic
moving objects.

Protocol (what train() expects of any dataset): item = dict(clip=float [T, 3, H, W] in [0, 1],
state=float [S] privileged state at the clip's last frame, for probing; episode=int).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from agent.data.layout import env_state_key


@dataclass
class Episode:
    """One recorded episode: frames uint8 [N, H, W, 3], state float32 [N, S]."""

    frames: np.ndarray
    state: np.ndarray
    index: int

    def __post_init__(self) -> None:
        f, s = self.frames, self.state
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            raise ValueError(f"episode {self.index}: frames must be uint8 [N, H, W, 3], got {f.dtype} {f.shape}")
        if s.ndim != 2 or len(s) != len(f):
            raise ValueError(f"episode {self.index}: state must be [N={len(f)}, S], got {s.shape}")


def load_episodes(root: str | Path) -> list[Episode]:
    """Every *.npz in `root` (sorted by name) with arrays `frames` and `state`."""
    paths = sorted(Path(root).glob("*.npz"))
    if not paths:
        raise FileNotFoundError(f"no .npz episode files in {root}")
    episodes = []
    for i, path in enumerate(paths):
        with np.load(path) as z:
            missing = {"frames", "state"} - set(z.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)} (has {z.files})")
            episodes.append(Episode(z["frames"], z["state"].astype(np.float32), i))
    return episodes


def save_episodes(episodes: list[Episode], root: str | Path) -> list[Path]:
    """Write episodes as root/episode_XXXXXX.npz (the layout `--data DIR` reads)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for ep in episodes:
        path = root / f"episode_{ep.index:06d}.npz"
        np.savez_compressed(path, frames=ep.frames, state=ep.state)
        paths.append(path)
    return paths


class ClipDataset(Dataset):
    """All windows of `frames` frames (every `frame_step`-th, start every `hop`) of episodes."""

    def __init__(
        self,
        episodes: list[Episode],
        frames: int,
        img_size: int | None = None,
        frame_step: int = 1,
        hop: int = 1,
    ):
        self.episodes = episodes
        self.frames = frames
        self.img_size = img_size
        self.frame_step = frame_step
        span = (frames - 1) * frame_step + 1
        self.index = [(e, start) for e, ep in enumerate(episodes) for start in range(0, len(ep.frames) - span + 1, hop)]
        if not self.index:
            raise ValueError(f"no episode has the {span} frames one clip needs")

    @classmethod
    def from_dir(cls, root: str | Path, frames: int, **kwargs: int | None) -> ClipDataset:
        return cls(load_episodes(root), frames, **kwargs)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Tensor | int]:
        e, start = self.index[i]
        ep = self.episodes[e]
        stop = start + (self.frames - 1) * self.frame_step + 1
        frames = torch.from_numpy(ep.frames[start : stop : self.frame_step])  # [T, H, W, 3]
        clip = _resize(frames.permute(0, 3, 1, 2).float() / 255.0, self.img_size)  # [T, 3, H, W]
        state = torch.from_numpy(ep.state[stop - 1])  # [S] at the last frame
        return {"clip": clip, "state": state, "episode": ep.index}


class LeRobotClips(Dataset):
    """Clips of one camera (None: the first video key) of a LeRobot dataset (agent.data reader,
    frames decoded once into a cache); state = the privileged environment state when the dataset
    has it, else observation.state, at the clip's last frame."""

    def __init__(
        self,
        root: str | Path,
        frames: int,
        img_size: int | None = None,
        frame_step: int = 1,
        hop: int = 1,
        camera: str | None = None,
    ):
        from agent.data.clips import ClipDataset as FrameClips  # keeps torch-free data tools light

        self.frames, self.frame_step, self.img_size = frames, frame_step, img_size
        self.inner = FrameClips(Path(root), clip_len=(frames - 1) * frame_step + 1, camera=camera, stride=hop)
        if not len(self.inner):
            raise ValueError(f"{root}: no episode has the {(frames - 1) * frame_step + 1} frames one clip needs")
        features = self.inner.ds.features
        self.camera = self.inner.key
        self.state_names = list(features[env_state_key(features) or "observation.state"]["names"])

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> dict[str, Tensor | int]:
        item = self.inner[i]
        clip = _resize(item["clip"][:: self.frame_step], self.img_size)
        state = item.get("env_state", item["state"])[-1].float()
        return {"clip": clip, "state": state, "episode": int(item["episode"])}


def open_clips(
    root: str | Path, frames: int, img_size: int | None = None, frame_step: int = 1, camera: str | None = None
) -> Dataset:
    """A LeRobot dataset root (has meta/info.json; `camera`: None = its first video key) or a
    directory of .npz episodes (one camera: `camera` must be None)."""
    if (Path(root) / "meta" / "info.json").exists():
        return LeRobotClips(root, frames, img_size=img_size, frame_step=frame_step, camera=camera)
    if camera is not None:
        raise ValueError(f"{root}: .npz episodes hold one camera; camera {camera!r} applies to LeRobot datasets")
    return ClipDataset.from_dir(root, frames, img_size=img_size, frame_step=frame_step)


def square_frames(x: Tensor, size: int) -> Tensor:
    """Frames [..., 3, H, W] to [..., 3, size, size]: centre-cropped to a square (the longer side
    loses both edges; no aspect-ratio squash), then resized (antialiased bilinear). Training, the
    perception node and the latent cache all see frames through this one function."""
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = x[..., top : top + side, left : left + side]
    if side == size:
        return x
    lead = x.shape[:-3]
    y = F.interpolate(x.reshape(-1, *x.shape[-3:]), size=(size, size), mode="bilinear", antialias=True)
    return y.clamp(0, 1).reshape(*lead, 3, size, size)


def _resize(clip: Tensor, img_size: int | None) -> Tensor:
    """clip [T, 3, H, W] to [T, 3, img_size, img_size] (square_frames); None keeps it as it is."""
    return clip if img_size is None else square_frames(clip, img_size)


# Fixed identities so "object k" means the same thing in every episode: (RGB, shape).
OBJECTS = [((230, 40, 40), "square"), ((40, 90, 240), "disc"), ((40, 200, 60), "square")]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured background [H, W, 3] float: coarse colour blobs plus fine grain."""
    coarse = rng.uniform(90, 160, (4, 4, 3))
    smooth = F.interpolate(torch.from_numpy(coarse).permute(2, 0, 1)[None], size=(size, size), mode="bicubic")[
        0
    ].permute(1, 2, 0)
    return smooth.numpy() + rng.normal(0, 4, (size, size, 3))


def moving_objects_episode(
    rng: np.random.Generator,
    length: int,
    size: int = 64,
    num_objects: int = 2,
    index: int = 0,
    radius: float = 0.1,
) -> Episode:
    """Coloured squares/discs (half-width `radius` x size) bouncing over a texture; state = object
    centres in [0, 1]."""
    if not 1 <= num_objects <= len(OBJECTS):
        raise ValueError(f"num_objects must be in 1..{len(OBJECTS)}, got {num_objects}")
    radius = radius * size
    pos = rng.uniform(radius, size - radius, (num_objects, 2))  # [K, (x, y)] pixels
    vel = rng.uniform(-1, 1, (num_objects, 2)) * size / 16
    bg = _background(rng, size)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    frames = np.empty((length, size, size, 3), np.uint8)
    state = np.empty((length, 2 * num_objects), np.float32)
    for t in range(length):
        img = bg.copy()
        for k in range(num_objects):
            colour, shape = OBJECTS[k]
            dx, dy = xs - pos[k, 0], ys - pos[k, 1]
            if shape == "disc":
                inside = dx**2 + dy**2 <= radius**2
            else:
                inside = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
            img[inside] = colour
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
        state[t] = (pos / size).reshape(-1)
        pos += vel
        for axis in range(2):  # bounce off the walls
            low, high = pos[:, axis] < radius, pos[:, axis] > size - radius
            vel[low | high, axis] *= -1
            pos[:, axis] = np.clip(pos[:, axis], radius, size - radius)
    return Episode(frames, state, index)


def synthetic_episodes(
    count: int,
    length: int = 16,
    size: int = 64,
    num_objects: int = 2,
    seed: int = 0,
    radius: float = 0.1,
) -> list[Episode]:
    """`count` independent moving-object episodes (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    return [moving_objects_episode(rng, length, size, num_objects, i, radius) for i in range(count)]

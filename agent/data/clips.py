"""Training clips: T consecutive frames of one camera with the matching proprio and actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agent.data.layout import env_state_key
from agent.data.reader import Dataset


class ClipDataset(torch.utils.data.Dataset):
    """Every window of `clip_len` frames (step `stride`) inside one episode, of one camera (name or
    video key; None: the dataset's first video key).

    Videos are decoded once into .npy memmaps under the dataset's .cache/, so loading a clip is
    a memory copy and a training loop never waits on a video decoder.
    """

    def __init__(self, root: Path, clip_len: int = 8, camera: str | None = None, stride: int = 1) -> None:
        self.ds = Dataset(root)
        self.key = self.ds.camera_key(camera)
        self.clip_len = clip_len
        cols = self.ds.columns
        self.state, self.action = cols["observation.state"], cols["action"]
        env = env_state_key(self.ds.features)
        self.env = None if env is None else cols[env]  # privileged sim state, when recorded
        self.starts: list[tuple[int, int]] = []  # (episode, frame offset)
        self.videos = []  # per episode: (memmap of its file, first frame of the episode in it)
        for ep, row in enumerate(self.ds.episodes):
            frames = self.ds.video_frames(self.key, row)
            self.videos.append((frames, round(row[f"videos/{self.key}/from_timestamp"] * self.ds.fps)))
            self.starts += [(ep, t) for t in range(0, row["length"] - clip_len + 1, stride)]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        ep, t = self.starts[i]
        frames, first = self.videos[ep]
        clip = np.array(frames[first + t : first + t + self.clip_len])  # [T, H, W, 3] uint8
        g = self.ds.episodes[ep]["dataset_from_index"] + t
        item: dict[str, torch.Tensor | int] = {
            "clip": torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 255.0,  # [T, 3, H, W]
            "state": torch.from_numpy(self.state[g : g + self.clip_len].copy()),
            "action": torch.from_numpy(self.action[g : g + self.clip_len].copy()),
            "episode": ep,
        }
        if self.env is not None:
            item["env_state"] = torch.from_numpy(self.env[g : g + self.clip_len].copy())
        return item

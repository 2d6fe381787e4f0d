"""Inference path of the encoder: a per-episode frame buffer and clip -> latent, as the node runs it."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.perception.checkpoint import load_model
from agent.perception.clips import square_frames
from agent.perception.config import Config, EncoderConfig, config_from_dict
from agent.perception.model import VJEPA


def checkpoint_config(path: str | Path) -> Config:
    """The Config stored in a training checkpoint (raises OSError / ValueError when unreadable)."""
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if not isinstance(state, dict) or "config" not in state:
        raise ValueError(f"{path}: not an encoder checkpoint (no 'config' entry)")
    return config_from_dict(state["config"], str(path))


def encoder_mismatch(ckpt: EncoderConfig, expected: EncoderConfig) -> list[str]:
    """Fields where the checkpoint's architecture differs, as 'field: checkpoint X, config Y'."""
    return [
        f"encoder.{name}: checkpoint {a!r}, config {b!r}"
        for name, a in vars(ckpt).items()
        if a != (b := getattr(expected, name))
    ]


class ClipEncoder:
    """Keeps the last frames of the current episode and encodes them into one float32 latent."""

    def __init__(self, model: VJEPA, frame_step: int = 1, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.cfg = model.cfg
        self.device = torch.device(device)
        self.frame_step = frame_step
        self.span = (self.cfg.frames - 1) * frame_step + 1  # frames one clip covers
        self.frames: deque[torch.Tensor] = deque(maxlen=self.span)  # [3, S, S] float in [0, 1]
        self.episode: Any = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, frame_step: int = 1, device: str = "cpu") -> ClipEncoder:
        return cls(load_model(path), frame_step, device)

    def push(self, head: np.ndarray, episode: Any = None) -> None:
        """Add one uint8 [H, W, 3] frame; a new episode id empties the buffer first. Each frame is
        converted (and resized) once here, not again for every clip it is part of."""
        if episode != self.episode:
            self.frames.clear()
            self.episode = episode
        if not head.flags.writeable or not head.flags.c_contiguous:  # received frames are read-only views
            head = np.array(head, order="C")  # torch wants a writable buffer (and warns); 64x64 is cheap
        x = torch.from_numpy(head).to(self.device).permute(2, 0, 1).float() / 255.0
        self.frames.append(square_frames(x, self.cfg.img_size))  # [3, S, S], as in training

    def clip(self) -> torch.Tensor:
        """The latest clip [1, T, 3, S, S] in [0, 1]; before the buffer fills, the first frame repeats."""
        if not self.frames:
            raise RuntimeError("no frame pushed yet")
        frames = [self.frames[0]] * (self.span - len(self.frames)) + list(self.frames)
        return torch.stack(frames[:: self.frame_step]).unsqueeze(0)

    @torch.inference_mode()
    def encode(self) -> np.ndarray:
        """Latent of the latest clip: model.embed flattened to a float32 vector."""
        z = self.model.embed(self.clip())[0]  # [D] or [N, D]
        return z.flatten().float().cpu().numpy()

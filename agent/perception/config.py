"""Typed encoder and training configs, loaded from YAML (configs/models/) and validated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.runtime.config import from_dict
from agent.runtime.config import load_config as runtime_load_config

POS_EMBEDS = ("sincos", "learned")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the V-JEPA video ViT (context/target encoder and predictor)."""

    img_size: int = 64  # square frames, pixels
    frames: int = 4  # clip length T
    tubelet: int = 2  # frames per token
    patch: int = 8  # pixels per token side
    dim: int = 96
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    pos_embed: str = "sincos"  # one of POS_EMBEDS
    pred_dim: int = 64
    pred_depth: int = 2
    pred_heads: int = 4

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (T', H', W') of one clip."""
        side = self.img_size // self.patch
        return (self.frames // self.tubelet, side, side)

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    def check(self) -> None:
        """Raise ValueError naming every bad combination of values."""
        errs = []
        if self.pos_embed not in POS_EMBEDS:
            errs.append(f"pos_embed={self.pos_embed!r}: allowed values {POS_EMBEDS}")
        if self.img_size % self.patch:
            errs.append(f"img_size={self.img_size} is not a multiple of patch={self.patch}")
        if self.frames % self.tubelet:
            errs.append(f"frames={self.frames} is not a multiple of tubelet={self.tubelet}")
        for d, h, name in ((self.dim, self.heads, ""), (self.pred_dim, self.pred_heads, "pred_")):
            if d % 8:
                errs.append(f"{name}dim={d} must be a multiple of 8 (3D sincos embedding)")
            if d % h:
                errs.append(f"{name}dim={d} is not divisible by {name}heads={h}")
        if errs:
            raise ValueError("invalid 'encoder' section: " + "; ".join(errs))


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, masking, data and collapse-watch settings for encoder training."""

    steps: int = 2000
    batch_size: int = 16  # per process
    lr: float = 5.0e-4  # peak, after linear warmup
    min_lr: float = 1.0e-6  # end of cosine decay
    warmup_steps: int = 100
    weight_decay: float = 0.04
    weight_decay_end: float = 0.04  # cosine schedule from weight_decay to this
    ema_start: float = 0.998  # target momentum, rises linearly to ema_end
    ema_end: float = 1.0
    grad_clip: float = 1.0  # max grad norm; 0 disables clipping
    short_blocks: int = 8  # short-range mask: union of this many blocks ...
    short_scale: float = 0.15  # ... each this fraction of the frame's patch grid
    long_blocks: int = 2
    long_scale: float = 0.7
    aspect_min: float = 0.75
    aspect_max: float = 1.5
    max_temporal_keep: float = 1.0  # context from this leading fraction of the clip; rest is target
    frame_step: int = 1  # temporal subsampling when cutting clips from episodes
    workers: int = 0  # DataLoader worker processes (batches are pinned in memory when training on cuda)
    device: str = "auto"  # one of DEVICES; auto: cuda when torch sees one (cuda:LOCAL_RANK under torchrun)
    precision: str = "fp32"  # one of PRECISIONS; bf16: forward and loss under torch.autocast, fp32 weights
    compile: bool = False  # torch.compile the model for training
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200
    probe_every: int = 200  # collapse watch (std, rank, probe R2); 0 disables
    probe_clips: int = 256
    collapse_std: float = 0.02  # warn below this normalised embedding std
    collapse_rank: float = 2.0  # warn below this effective rank

    def check(self) -> None:
        """Raise ValueError naming every bad combination of values."""
        errs = []
        for name in ("short_scale", "long_scale"):
            if not 0.0 < getattr(self, name) < 1.0:
                errs.append(f"{name}={getattr(self, name)} must be in (0, 1)")
        if not 0.0 < self.max_temporal_keep <= 1.0:
            errs.append(f"max_temporal_keep={self.max_temporal_keep} must be in (0, 1]")
        if not 0.0 < self.aspect_min <= self.aspect_max:
            errs.append(f"need 0 < aspect_min <= aspect_max, got {self.aspect_min}, {self.aspect_max}")
        if self.steps < 1 or self.batch_size < 1:
            errs.append("steps and batch_size must be >= 1")
        for name, allowed in (("device", DEVICES), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                errs.append(f"{name}={getattr(self, name)!r}: allowed values {allowed}")
        if self.workers < 0:
            errs.append(f"workers={self.workers} must be >= 0")
        if errs:
            raise ValueError("invalid 'train' section: " + "; ".join(errs))


@dataclass(frozen=True)
class Config:
    """One model file: `encoder:` and `train:` sections."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def config_from_dict(raw: Any, source: str = "<dict>") -> Config:
    """Build and validate a Config; errors name the key, the source and the allowed keys."""
    return from_dict(Config, {} if raw is None else raw, source=source)


def load_config(path: str | Path) -> Config:
    """Read a model YAML file (see configs/models/encoder_tiny.yaml)."""
    return runtime_load_config(Config, Path(path))

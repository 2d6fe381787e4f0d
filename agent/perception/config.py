"""Typed encoder and training configs, loaded from YAML (configs/models/) and validated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

POS_EMBEDS = ("sincos", "learned")


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

    def check(self) -> list[str]:
        """Problems with value combinations, as readable lines (empty when valid)."""
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
        return errs


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
    workers: int = 0  # DataLoader worker processes
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200
    probe_every: int = 200  # collapse watch (std, rank, probe R2); 0 disables
    probe_clips: int = 256
    collapse_std: float = 0.02  # warn below this normalised embedding std
    collapse_rank: float = 2.0  # warn below this effective rank

    def check(self) -> list[str]:
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
        return errs


@dataclass(frozen=True)
class Config:
    """One model file: `encoder:` and `train:` sections."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def _coerce(value: Any, typ: type, where: str) -> Any:
    """Check one YAML value against its field type; ints pass for floats, '1e-4' strings too."""
    if typ is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError as e:
            raise ValueError(f"{where}: expected float, got str {value!r}") from e
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
        return value
    raise ValueError(f"{where}: expected {typ.__name__}, got {type(value).__name__} {value!r}")


def _section(cls: type, raw: Any, name: str, source: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: section '{name}' must be a mapping, got {type(raw).__name__}")
    hints = get_type_hints(cls)
    allowed = [f.name for f in fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in hints:
            expected = ", ".join(f"{k}: {hints[k].__name__}" for k in allowed)
            raise ValueError(f"{source}: unknown key '{name}.{key}'; expected fields: {expected}")
        kwargs[key] = _coerce(value, hints[key], f"{source}: key '{name}.{key}'")
    obj = cls(**kwargs)
    errs = obj.check()
    if errs:
        raise ValueError(f"{source}: invalid '{name}' section: " + "; ".join(errs))
    return obj


def config_from_dict(raw: Any, source: str = "<dict>") -> Config:
    """Build and validate a Config; errors name the key, the source and the expected fields."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: top level must be a mapping with 'encoder' and 'train'")
    unknown = set(raw) - {"encoder", "train"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValueError(f"{source}: unknown key '{key}'; expected sections: encoder, train")
    return Config(
        encoder=_section(EncoderConfig, raw.get("encoder"), "encoder", source),
        train=_section(TrainConfig, raw.get("train"), "train", source),
    )


def load_config(path: str | Path) -> Config:
    """Read a model YAML file (see configs/models/encoder_tiny.yaml)."""
    path = Path(path)
    with path.open() as f:
        raw = yaml.safe_load(f)
    return config_from_dict(raw, str(path))

"""Typed world-model and training configs, loaded from YAML (configs/models/world_model_*.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.perception.config import DEVICES, PRECISIONS
from agent.runtime.config import from_dict
from agent.runtime.config import load_config as runtime_load_config


@dataclass(frozen=True)
class ModelConfig:
    """Interface (latent grid, proprio, action widths) and size of the predictor."""

    latent_tokens: int = 64  # encoder tokens per step, H' * W' (what the perception node publishes)
    latent_dim: int = 96  # encoder width D
    proprio_dim: int = 9  # base_pose 3 + arm joints + gripper
    action_dim: int = 9  # base_vel 3 + arm targets + gripper (the robot's command)
    proj_dim: int = 64  # learned projection of the [tokens, D] grid the dynamics run in
    dim: int = 128  # transformer width
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    context: int = 8  # steps of history the predictor attends to

    @property
    def latent_width(self) -> int:
        """Length of one flattened latent, tokens * D (Latent.z without proprio)."""
        return self.latent_tokens * self.latent_dim

    def check(self) -> None:
        """Raise ValueError naming every bad value."""
        errs = [
            f"{name}={getattr(self, name)} must be >= 1"
            for name in ("latent_tokens", "latent_dim", "proprio_dim", "action_dim", "proj_dim", "depth", "context")
            if getattr(self, name) < 1
        ]
        if self.dim % self.heads:
            errs.append(f"dim={self.dim} is not divisible by heads={self.heads}")
        if errs:
            raise ValueError("invalid 'model' section: " + "; ".join(errs))


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, loss and validation settings for world-model training."""

    steps: int = 3000
    batch_size: int = 32  # per process
    lr: float = 1.0e-3  # peak, after linear warmup
    min_lr: float = 1.0e-5  # end of cosine decay
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max grad norm; 0 disables clipping
    rollout: int = 4  # k: last steps of each window predicted from the model's own outputs
    proprio_weight: float = 1.0  # weight of the proprio L1 next to the latent L1
    held_out: float = 0.1  # fraction of episodes kept out of training for validation
    eval_k: list[int] = field(default_factory=lambda: [1, 5])  # k-step errors logged on held-out windows
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200
    eval_every: int = 200  # held-out k-step errors vs copy-last; 0 disables
    device: str = "auto"  # auto (cuda when torch sees one), cpu or cuda, as the encoder's train.device
    precision: str = "fp32"  # fp32 or bf16 (torch.autocast; weights and optimizer stay fp32)

    def check(self) -> None:
        """Raise ValueError naming every bad value."""
        errs = []
        if self.steps < 1 or self.batch_size < 1:
            errs.append("steps and batch_size must be >= 1")
        if self.rollout < 0:
            errs.append(f"rollout={self.rollout} must be >= 0")
        if not 0.0 <= self.held_out < 1.0:
            errs.append(f"held_out={self.held_out} must be in [0, 1)")
        if any(k < 1 for k in self.eval_k):
            errs.append(f"eval_k={self.eval_k}: every k must be >= 1")
        for name, allowed in (("device", DEVICES), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                errs.append(f"{name}={getattr(self, name)!r}: allowed values {allowed}")
        if errs:
            raise ValueError("invalid 'train' section: " + "; ".join(errs))


@dataclass(frozen=True)
class Config:
    """One model file: `model:` and `train:` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> None:
        if self.train.rollout >= self.model.context:
            raise ValueError(f"train.rollout={self.train.rollout} must be < model.context={self.model.context}")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def config_from_dict(raw: Any, source: str = "<dict>") -> Config:
    """Build and validate a Config; errors name the key, the source and the allowed keys."""
    return from_dict(Config, {} if raw is None else raw, source=source)


def load_config(path: str | Path) -> Config:
    """Read a world-model YAML file (see configs/models/world_model_tiny.yaml)."""
    return runtime_load_config(Config, Path(path))


def interface_mismatch(cfg: ModelConfig, actual: dict[str, tuple[int, str]]) -> list[str]:
    """'model.NAME: config X, SOURCE Y' for each interface width that differs from what a source
    (encoder, dataset, robot) provides; `actual` maps a ModelConfig field to (value, source)."""
    return [
        f"model.{name}: config {getattr(cfg, name)}, {source} {value}"
        for name, (value, source) in actual.items()
        if getattr(cfg, name) != value
    ]

"""World-model checkpoints: training state that resumes exactly, fp16 export, and loading with the
interface (latent grid, proprio and action layout) checked against what the caller has."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from agent.perception.checkpoint import export_main
from agent.world_model.config import Config, ModelConfig, config_from_dict, interface_mismatch
from agent.world_model.model import WorldModel

CHECKPOINT = "checkpoint.pt"


def _write(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_checkpoint(
    path: Path,
    step: int,
    cfg: Config,
    model: WorldModel,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    meta: dict[str, Any],
) -> None:
    """Everything a resume needs (data order is a function of the step: no RNG state to keep).
    meta: encoder path and sha256, proprio and action names (checked when the model is loaded)."""
    state = {"step": step, "config": cfg.to_dict(), "meta": meta, "model": model.state_dict()}
    _write(path, state | {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()})


def load_checkpoint(
    path: Path,
    cfg: Config,
    model: WorldModel,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
) -> int:
    """Restore a training checkpoint made with the same model config; returns its step."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    stored = config_from_dict(state["config"], str(path))
    if stored.model != cfg.model:
        diff = [f"model.{k}: checkpoint {v}, config {getattr(cfg.model, k)}" for k, v in vars(stored.model).items()
                if v != getattr(cfg.model, k)]  # fmt: skip
        raise ValueError(f"{path}: cannot resume with another model config: " + "; ".join(diff))
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return int(state["step"])


def export_model(src: str | Path, dst: str | Path, half: bool = True) -> Path:
    """An inference-only copy of a training checkpoint: config, meta, step and weights (fp16 unless half=False)."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    if "model" not in state or "meta" not in state:
        raise ValueError(f"{src}: not a world-model checkpoint (no 'model'/'meta' entries)")
    weights = {k: v.half() if half and v.is_floating_point() else v for k, v in state["model"].items()}
    out = {k: state[k] for k in ("step", "config", "meta")} | {"model": weights, "exported_from": str(src)}
    _write(Path(dst), out)
    return Path(dst)


def check_interface(
    cfg: ModelConfig,
    source: str,
    *,
    latent: tuple[int, int, str] | None = None,
    proprio: tuple[int, str] | None = None,
    action: tuple[int, str] | None = None,
) -> None:
    """Raise ValueError when the model's widths differ from what the caller provides:
    latent = (tokens, D, encoder name), proprio / action = (width, where it comes from)."""
    actual: dict[str, tuple[int, str]] = {}
    if latent is not None:
        actual |= {"latent_tokens": (latent[0], latent[2]), "latent_dim": (latent[1], latent[2])}
    if proprio is not None:
        actual["proprio_dim"] = proprio
    if action is not None:
        actual["action_dim"] = action
    diff = interface_mismatch(cfg, actual)
    if diff:
        raise ValueError(f"{source} does not fit: " + "; ".join(diff))


def load_model(
    path: str | Path, *, latent: tuple[int, int, str] | None = None, action_names: list[str] | None = None
) -> tuple[WorldModel, dict[str, Any]]:
    """(model in eval mode, float32, and its meta) from a training checkpoint or an export; refused
    when the latent grid or the action layout differs from the encoder's / robot's given here."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = config_from_dict(state["config"], str(path))
    meta = state["meta"]
    action = None if action_names is None else (len(action_names), f"robot command {action_names}")
    check_interface(cfg.model, f"world model {path}", latent=latent, action=action)
    if action_names is not None and list(meta["action_names"]) != list(action_names):
        raise ValueError(f"world model {path}: action layout {meta['action_names']}, robot command {action_names}")
    model = WorldModel(cfg.model)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    return model.eval(), meta


def main(argv: list[str] | None = None) -> int:
    """`python -m agent.world_model.checkpoint export SRC DST [--fp32]`."""
    return export_main("agent.world_model.checkpoint", export_model, "models/world_model_tiny_sim.pt", argv)


if __name__ == "__main__":
    raise SystemExit(main())

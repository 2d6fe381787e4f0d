"""Training checkpoints that resume bit-identically: weights, optimizer, scheduler, step, RNGs."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from agent.perception.config import Config, config_from_dict
from agent.perception.masking import MaskSampler
from agent.perception.model import VJEPA

CHECKPOINT = "checkpoint.pt"


def rng_state(masks: MaskSampler) -> dict[str, Any]:
    """This process's RNG states (torch, numpy, python, mask sampler), safe for weights_only."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
        "masks": masks.state_dict(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any], masks: MaskSampler) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    masks.load_state_dict(state["masks"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _all_ranks(obj: Any) -> list[Any]:
    """Gather one object from every rank (a list of one when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def save_checkpoint(
    path: Path,
    step: int,
    cfg: Config,
    model: VJEPA,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    masks: MaskSampler,
    rank: int,
) -> None:
    """Collective: every rank calls it (RNG states are gathered), rank 0 writes atomically."""
    rngs = _all_ranks(rng_state(masks))
    if rank != 0:
        return
    state = {
        "step": step,
        "config": cfg.to_dict(),
        "encoder": model.encoder.state_dict(),
        "target": model.target.state_dict(),
        "predictor": model.predictor.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "rng": rngs,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(
    path: Path,
    model: VJEPA,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    masks: MaskSampler,
    rank: int,
) -> int:
    """Restore everything save_checkpoint wrote; returns the step to continue from."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.encoder.load_state_dict(state["encoder"])
    model.target.load_state_dict(state["target"])
    model.predictor.load_state_dict(state["predictor"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    rngs = state["rng"]
    set_rng_state(rngs[rank % len(rngs)], masks)
    return int(state["step"])


def load_model(path: str | Path, map_location: str = "cpu") -> VJEPA:
    """A trained VJEPA (config from the checkpoint) for inference: model.embed(clip)."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    cfg = config_from_dict(state["config"], str(path))
    model = VJEPA(cfg.encoder)
    model.encoder.load_state_dict(state["encoder"])
    model.target.load_state_dict(state["target"])
    model.predictor.load_state_dict(state["predictor"])
    return model.eval()


def export_model(src: str | Path, dst: str | Path, half: bool = True) -> Path:
    """An inference-only copy of a training checkpoint: config, step and weights (fp16 unless
    half=False), no optimizer, scheduler or RNG state; load_model() and the perception node read it."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    if "config" not in state:
        raise ValueError(f"{src}: not an encoder checkpoint (no 'config' entry)")
    out = {"step": state["step"], "config": state["config"], "exported_from": str(src)}
    for part in ("encoder", "target", "predictor"):
        out[part] = {k: v.half() if half and v.is_floating_point() else v for k, v in state[part].items()}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(out, tmp)
    os.replace(tmp, dst)
    return dst


def export_main(module: str, export: Callable[..., Path], example: str, argv: list[str] | None = None) -> int:
    """`python -m MODULE export SRC DST [--fp32]`: a training checkpoint to an inference model."""
    import argparse

    p = argparse.ArgumentParser(prog=f"python -m {module}", description=export.__doc__)
    p.add_argument("command", choices=["export"])
    p.add_argument("src", type=Path, help="training checkpoint (runs/NAME/checkpoint.pt)")
    p.add_argument("dst", type=Path, help=f"inference model to write, e.g. {example}")
    p.add_argument("--fp32", action="store_true", help="keep float32 weights (default: float16, half the size)")
    a = p.parse_args(argv)
    try:
        path = export(a.src, a.dst, half=not a.fp32)
    except (OSError, ValueError, KeyError) as exc:
        p.error(str(exc))
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m agent.perception.checkpoint export SRC DST [--fp32]`."""
    return export_main("agent.perception.checkpoint", export_model, "models/encoder_tiny_sim.pt", argv)


if __name__ == "__main__":
    raise SystemExit(main())

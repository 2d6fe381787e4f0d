"""Held-out masked-prediction loss of a VJEPA against the best constant guess of its targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from agent.perception.model import VJEPA, gather_tokens


@torch.no_grad()
def targets(model: VJEPA, clips: Tensor, batch: int = 64) -> Tensor:
    """Layer-normed target-encoder features [M, N, D] on the model's device, exactly what the loss regresses."""
    h = torch.cat([model.encode(c) for c in clips.split(batch)])
    return F.layer_norm(h, (h.shape[-1],))


def prediction_losses(
    model: VJEPA, fit_clips: Tensor, test_clips: Tensor, masks: list[tuple[Tensor, Tensor]]
) -> dict[str, float]:
    """L1 on test_clips [M, T, 3, H, W], same masks: the predictor ('model'), the mean target
    feature of fit_clips ('mean', [D]) and its per-token median ('median', [N, D], knows position).
    Inputs may live on any device; the work runs on the model's."""
    return {k: float(v) for k, v in prediction_loss_tensors(model, fit_clips, test_clips, masks).items()}


@torch.no_grad()
def prediction_loss_tensors(
    model: VJEPA, fit_clips: Tensor, test_clips: Tensor, masks: list[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """prediction_losses as scalar tensors on the model's device."""
    dev = model.device
    test_clips, masks = test_clips.to(dev), [(c.to(dev), t.to(dev)) for c, t in masks]
    fit = targets(model, fit_clips)  # [M', N, D]
    mean = fit.mean(dim=(0, 1))  # [D]
    median = fit.median(dim=0).values  # [N, D]
    h = targets(model, test_clips)  # [M, N, D]
    l1: dict[str, list[Tensor]] = {"model": [], "mean": [], "median": []}
    for i, (ctx, tgt) in enumerate(masks):
        z = model.encoder(test_clips, ctx)  # [M, Nc, D]
        target = gather_tokens(h, tgt)  # [M, Nt, D]
        l1["model"].append((model.predictor(z, ctx, tgt, i) - target).abs().mean())
        l1["mean"].append((mean - target).abs().mean())
        l1["median"].append((gather_tokens(median.expand_as(h), tgt) - target).abs().mean())
    return {k: torch.stack(v).mean() for k, v in l1.items()}

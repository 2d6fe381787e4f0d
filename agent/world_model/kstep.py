"""k-step latent error of a world model on held-out windows, against copy-the-last-latent."""

from __future__ import annotations

import torch
from torch import Tensor

from agent.world_model.model import WorldModel


def kstep_errors(model: WorldModel, batch: dict[str, Tensor], history: int, ks: list[int]) -> dict[str, float]:
    """kstep_error_tensors as floats; the batch may live on any device, the work runs on the model's."""
    return {k: float(v) for k, v in kstep_error_tensors(model, batch, history, ks).items()}


@torch.no_grad()
def kstep_error_tensors(model: WorldModel, batch: dict[str, Tensor], history: int, ks: list[int]) -> dict[str, Tensor]:
    """Mean L1 per latent entry at each k: the model's rollout, and copy-last, from `history` true steps.

    batch: z [B, history + K, tokens, D], proprio, action (K = max(ks)). Keys: model_kN, copy_kN,
    shuffled_kN (the same rollout driven by another window's actions), proprio_kN and proprio_copy_kN
    (normalised proprio).
    """
    dev = model.pos.device
    z, s, a = (batch[k].to(dev) for k in ("z", "proprio", "action"))
    h, big_k = history, max(ks)
    p = model.encode(z[:, :h])  # [B, h, P]
    other = torch.roll(a, shifts=max(1, len(a) // 2), dims=0)  # actions of another window
    out: dict[str, Tensor] = {}
    for name, acts in (("model", a), ("shuffled", other)):
        p_ro, s_ro = model.rollout(p, s[:, :h], a[:, : h - 1], acts[:, h - 1 : h - 1 + big_k])  # [B, K, ...]
        z_ro = model.decode(z[:, h - 1], p[:, h - 1], p_ro)  # [B, K, tokens, D]
        for k in ks:
            out[f"{name}_k{k}"] = (z_ro[:, k - 1] - z[:, h - 1 + k]).abs().mean()
            if name == "model":
                out[f"proprio_k{k}"] = ((s_ro[:, k - 1] - s[:, h - 1 + k]) / model.proprio_std).abs().mean()
    for k in ks:
        out[f"copy_k{k}"] = (z[:, h - 1] - z[:, h - 1 + k]).abs().mean()
        out[f"proprio_copy_k{k}"] = ((s[:, h - 1] - s[:, h - 1 + k]) / model.proprio_std).abs().mean()
    return out

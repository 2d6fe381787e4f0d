"""Pixel baselines for the linear probe: PCA of raw clips to the encoder's dimension."""

from __future__ import annotations

import torch
from torch import Tensor

from agent.perception.collapse import ProbeSet, episode_probe_r2


def pca_fit(x: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Mean [P] and top-`dim` principal directions [P, dim] of rows x [M, P]."""
    x = x.double()
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)  # vh [min(M, P), P]
    return mean, vh[:dim].T


def pca_features(pixels: Tensor, train: Tensor, dim: int) -> Tensor:
    """Rows pixels [M, P] projected on the top-`dim` principal directions of the rows `train`."""
    mean, comps = pca_fit(pixels[train], dim)
    return (pixels.double() - mean) @ comps  # [M, min(dim, rows, P)]


def pca_probe_r2(probe: ProbeSet, dim: int) -> float | None:
    """Probe R2 of state from PCA-of-pixels features, PCA fitted on the training episodes only (None:
    too few episodes, see collapse.episode_probe_r2)."""
    train, _ = probe.split()
    return episode_probe_r2(pca_features(probe.clips.flatten(1), train, dim), probe)

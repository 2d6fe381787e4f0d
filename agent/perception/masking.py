"""V-JEPA multi-block tube masks: each mask type gives (context, target) token indices per clip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from agent.perception.config import TrainConfig


@dataclass(frozen=True)
class BlockSpec:
    """One mask type: the union of `num_blocks` blocks, each `scale` of the frame's patch grid."""

    num_blocks: int
    scale: float
    aspect: tuple[float, float] = (0.75, 1.5)


def mask_specs(cfg: TrainConfig) -> list[BlockSpec]:
    """The two V-JEPA mask types: short-range (many small blocks) and long-range (two large)."""
    aspect = (cfg.aspect_min, cfg.aspect_max)
    return [
        BlockSpec(cfg.short_blocks, cfg.short_scale, aspect),
        BlockSpec(cfg.long_blocks, cfg.long_scale, aspect),
    ]


def block_size(spec: BlockSpec, height: int, width: int, gen: torch.Generator) -> tuple[int, int]:
    """Block (h, w) in patches with area ~ scale * H * W and a log-uniform aspect ratio."""
    lo, hi = math.log(spec.aspect[0]), math.log(spec.aspect[1])
    aspect = math.exp(lo + (hi - lo) * torch.rand(1, generator=gen).item())
    area = spec.scale * height * width
    h = min(height, max(1, round(math.sqrt(area * aspect))))
    w = min(width, max(1, round(math.sqrt(area / aspect))))
    return h, w


def tube_mask(
    spec: BlockSpec,
    grid: tuple[int, int, int],
    size: tuple[int, int],
    gen: torch.Generator,
    min_keep: int = 1,
    tries: int = 1000,
) -> Tensor:
    """Boolean mask [T', H', W'] (True = masked, i.e. a prediction target), same in every slice."""
    t, height, width = grid
    h, w = size
    for _ in range(tries):
        spatial = torch.zeros(height, width, dtype=torch.bool)  # [H', W']
        for _ in range(spec.num_blocks):
            top = int(torch.randint(0, height - h + 1, (1,), generator=gen))
            left = int(torch.randint(0, width - w + 1, (1,), generator=gen))
            spatial[top : top + h, left : left + w] = True
        if int((~spatial).sum()) >= min_keep:
            return spatial.expand(t, height, width)  # tube: whole clip in time
    raise RuntimeError(f"no mask with >= {min_keep} visible patches for {spec} on grid {grid}")


def _subset(idx: Tensor, count: int, gen: torch.Generator) -> Tensor:
    """A random `count`-subset of a 1-D index tensor, kept in ascending order."""
    pick = torch.randperm(idx.numel(), generator=gen)[:count]
    return idx[pick].sort().values


def masks_to_indices(masks: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Masks [B, N] -> (context [B, Nc], target [B, Nt]), counts cut to the batch minimum."""
    n_ctx = int((~masks).sum(1).min())
    n_tgt = int(masks.sum(1).min())
    ctx = torch.stack([_subset((~m).nonzero().squeeze(1), n_ctx, gen) for m in masks])
    tgt = torch.stack([_subset(m.nonzero().squeeze(1), n_tgt, gen) for m in masks])
    return ctx, tgt


class MaskSampler:
    """Draws one (context, target) index pair per mask type for a batch; state is checkpointable."""

    def __init__(self, grid: tuple[int, int, int], specs: list[BlockSpec], seed: int = 0):
        self.grid = grid
        self.specs = specs
        self.gen = torch.Generator().manual_seed(seed)

    def sample_masks(self, batch: int) -> list[Tensor]:
        """Boolean masks, one [B, N] tensor per mask type (True = target)."""
        out = []
        for spec in self.specs:
            size = block_size(spec, self.grid[1], self.grid[2], self.gen)  # shared by the batch
            masks = [tube_mask(spec, self.grid, size, self.gen) for _ in range(batch)]
            out.append(torch.stack(masks).flatten(1))  # [B, N]
        return out

    def __call__(self, batch: int) -> list[tuple[Tensor, Tensor]]:
        """[(context [B, Nc], target [B, Nt]) per mask type], indices into the flat token grid."""
        return [masks_to_indices(m, self.gen) for m in self.sample_masks(batch)]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])

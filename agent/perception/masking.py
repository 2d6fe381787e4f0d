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
    context_frames: float = 1.0  # context only from this leading fraction of time slices


def mask_specs(cfg: TrainConfig) -> list[BlockSpec]:
    """The two V-JEPA mask types: short-range (many small blocks) and long-range (two large).

    With max_temporal_keep < 1 the later time slices are targets too; with no blocks at all that
    is plain next-tubelet prediction, a single mask type."""
    aspect, keep = (cfg.aspect_min, cfg.aspect_max), cfg.max_temporal_keep
    specs = [
        BlockSpec(cfg.short_blocks, cfg.short_scale, aspect, keep),
        BlockSpec(cfg.long_blocks, cfg.long_scale, aspect, keep),
    ]
    if cfg.short_blocks == cfg.long_blocks == 0:  # both are plain next-tubelet masks: one suffices
        return specs[:1]
    return specs


def block_size(spec: BlockSpec, height: int, width: int, gen: torch.Generator) -> tuple[int, int]:
    """Block (h, w) in patches with area ~ scale * H * W and a log-uniform aspect ratio."""
    lo, hi = math.log(spec.aspect[0]), math.log(spec.aspect[1])
    aspect = math.exp(lo + (hi - lo) * torch.rand(1, generator=gen).item())
    area = spec.scale * height * width
    h = min(height, max(1, round(math.sqrt(area * aspect))))
    w = min(width, max(1, round(math.sqrt(area / aspect))))
    return h, w


def tube_masks(
    spec: BlockSpec,
    grid: tuple[int, int, int],
    size: tuple[int, int],
    batch: int,
    gen: torch.Generator,
    min_keep: int = 1,
    tries: int = 1000,
) -> Tensor:
    """Boolean masks [B, T', H', W'] (True = masked, i.e. a prediction target): the same blocks in
    every slice, and every slice after the first `spec.context_frames` of the clip masked whole
    (V-JEPA's max_temporal_keep: the context comes from the past only)."""
    t, height, width = grid
    h, w = size
    past = max(1, int(t * spec.context_frames))  # time slices the context may use
    spatial = torch.zeros(batch, height, width, dtype=torch.bool)  # [B, H', W']
    redo = torch.ones(batch, dtype=torch.bool)  # clips still needing a draw
    rows, cols = torch.arange(height), torch.arange(width)
    for _ in range(tries):
        n = int(redo.sum())
        top = torch.randint(0, height - h + 1, (n, spec.num_blocks, 1), generator=gen)
        left = torch.randint(0, width - w + 1, (n, spec.num_blocks, 1), generator=gen)
        in_rows = (rows >= top) & (rows < top + h)  # [n, blocks, H']
        in_cols = (cols >= left) & (cols < left + w)  # [n, blocks, W']
        spatial[redo] = (in_rows[..., :, None] & in_cols[..., None, :]).any(1)
        redo = (~spatial).flatten(1).sum(1) < min_keep
        if not redo.any():
            mask = spatial[:, None].expand(batch, t, height, width).clone()  # tubes over time
            mask[:, past:] = True
            return mask
    raise RuntimeError(f"no mask with >= {min_keep} visible patches for {spec} on grid {grid}")


def _subsets(rows: Tensor, count: int, gen: torch.Generator) -> Tensor:
    """Per row of a boolean [B, N], a random `count`-subset of its True columns, ascending [B, count]."""
    keys = torch.rand(rows.shape, generator=gen).masked_fill(~rows, 2.0)  # True columns first
    return keys.argsort(dim=1)[:, :count].sort(dim=1).values


def masks_to_indices(masks: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Masks [B, N] -> (context [B, Nc], target [B, Nt]), counts cut to the batch minimum."""
    n_ctx = int((~masks).sum(1).min())
    n_tgt = int(masks.sum(1).min())
    return _subsets(~masks, n_ctx, gen), _subsets(masks, n_tgt, gen)


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
            out.append(tube_masks(spec, self.grid, size, batch, self.gen).flatten(1))  # [B, N]
        return out

    def __call__(self, batch: int) -> list[tuple[Tensor, Tensor]]:
        """[(context [B, Nc], target [B, Nt]) per mask type], indices into the flat token grid."""
        return [masks_to_indices(m, self.gen) for m in self.sample_masks(batch)]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])

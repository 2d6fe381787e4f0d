"""World-model training data: per-episode cached latents, proprio and actions, cut into windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from agent.data.reader import Dataset as LeRobotDataset
from agent.world_model.latent_cache import load_latents


@dataclass
class Episode:
    """One episode: latents z [L, tokens, D] (float16 ok), proprio [L, S], action [L, A] (a[t] follows step t)."""

    z: np.ndarray
    proprio: np.ndarray
    action: np.ndarray
    name: str

    def __len__(self) -> int:
        return len(self.z)


@dataclass(frozen=True)
class Layout:
    """What the episodes hold: names of proprio and action entries, latent grid size."""

    state_names: list[str]
    action_names: list[str]
    tokens: int
    dim: int


def load_episodes(roots: list[Path], encoder: Path) -> tuple[list[Episode], Layout]:
    """Episodes of every dataset root with its cached latents (load_latents refuses stale caches);
    all roots must share the proprio and action layout."""
    episodes: list[Episode] = []
    layout: Layout | None = None
    for root in roots:
        z = load_latents(root, encoder)  # [N, tokens, D]
        ds = LeRobotDataset(root)
        here = Layout(
            list(ds.features["observation.state"]["names"]),
            list(ds.features["action"]["names"]),
            z.shape[1],
            z.shape[2],
        )
        if layout is not None and here != layout:
            raise ValueError(f"{root}: layout {here} differs from {roots[0]}: {layout}")
        layout = here
        cols = ds.columns
        for ep, row in enumerate(ds.episodes):
            lo, hi = row["dataset_from_index"], row["dataset_to_index"]
            state, action = cols["observation.state"][lo:hi], cols["action"][lo:hi]
            episodes.append(Episode(z[lo:hi], state.astype(np.float32), action.astype(np.float32), f"{root}#{ep}"))
    assert layout is not None, "roots is empty"
    return episodes, layout


def split_episodes(episodes: list[Episode], held_out: float, seed: int) -> tuple[list[Episode], list[Episode]]:
    """(train, held-out) by whole episodes; round(held_out * count) episodes held out, at least one
    when held_out > 0 and there are two or more."""
    n = round(held_out * len(episodes))
    if held_out > 0 and len(episodes) > 1:
        n = max(1, n)
    order = np.random.default_rng(seed).permutation(len(episodes))
    out = set(order[:n].tolist())
    return [e for i, e in enumerate(episodes) if i not in out], [e for i, e in enumerate(episodes) if i in out]


class Windows(Dataset):
    """Every run of `length` consecutive steps inside one episode (start every `hop` steps).
    Item: z float32 [T, tokens, D], proprio [T, S], action [T, A]."""

    def __init__(self, episodes: list[Episode], length: int, hop: int = 1):
        self.episodes, self.length = episodes, length
        self.index = [(e, t) for e, ep in enumerate(episodes) for t in range(0, len(ep) - length + 1, hop)]
        if not self.index:
            raise ValueError(f"no episode has the {length} steps one window needs ({len(episodes)} episodes)")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        e, t = self.index[i]
        ep, sl = self.episodes[e], slice(t, t + self.length)
        return {
            "z": torch.from_numpy(np.asarray(ep.z[sl], dtype=np.float32)),
            "proprio": torch.from_numpy(ep.proprio[sl].copy()),
            "action": torch.from_numpy(ep.action[sl].copy()),
        }

    def stack(self) -> dict[str, Tensor]:
        """All windows as one batch (small held-out sets)."""
        items = [self[i] for i in range(len(self))]
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def training_rows(episodes: list[Episode]) -> tuple[Tensor, Tensor]:
    """All proprio [M, S] and action [M, A] rows, for the model's normalisation statistics."""
    proprio = torch.from_numpy(np.concatenate([e.proprio for e in episodes]))
    action = torch.from_numpy(np.concatenate([e.action for e in episodes]))
    return proprio, action

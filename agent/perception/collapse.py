"""Collapse watch for the encoder: embedding spread, effective rank and a linear probe of state."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

# Fewest episodes for a held-out probe R2 that means something: 2 held out, 6 to fit (4 + 2 to pick alpha).
MIN_PROBE_EPISODES = 8


@dataclass
class ProbeSet:
    """Clips with their privileged state and episode ids, held in memory for repeated probing."""

    clips: Tensor  # [M, T, 3, H, W]
    state: Tensor  # [M, S]
    episode: Tensor  # [M]

    @classmethod
    def from_dataset(cls, data: Dataset, count: int) -> ProbeSet:
        """`count` clips evenly spread over the dataset (so over its episodes)."""
        n = len(data)
        idx = torch.linspace(0, n - 1, min(count, n)).round().long().unique()
        items = [data[int(i)] for i in idx]
        return cls(
            clips=torch.stack([it["clip"] for it in items]),
            state=torch.stack([it["state"] for it in items]).float(),
            episode=torch.tensor([int(it["episode"]) for it in items]),
        )

    def split(self, holdout: float = 0.25) -> tuple[Tensor, Tensor]:
        """Boolean (train, test) row masks; the last `holdout` of episodes are held out."""
        return split_episodes(self.episode, holdout)


def split_episodes(episode: Tensor, holdout: float = 0.25) -> tuple[Tensor, Tensor]:
    """Boolean (train, test) masks over rows with episode ids [M]; the last episodes are test."""
    eps = episode.unique()  # sorted
    if len(eps) < 2:
        raise ValueError("the probe needs clips from at least 2 episodes")
    n_test = max(1, math.ceil(holdout * len(eps)))
    test = torch.isin(episode, eps[-n_test:])
    return ~test, test


def embedding_std(z: Tensor) -> float:
    """Mean per-dimension std of l2-normalised embeddings z [M, D], times sqrt(D); 0 = collapse."""
    return float((F.normalize(z.double(), dim=1).std(0) * math.sqrt(z.shape[1])).mean())


def effective_rank(z: Tensor, eps: float = 1e-12) -> float:
    """RankMe of centred embeddings z [M, D]: exp(entropy of normalised singular values)."""
    s = torch.linalg.svdvals(z.double() - z.double().mean(0))
    p = s / (s.sum() + eps)
    return float(torch.exp(-(p * torch.log(p + eps)).sum()))


def probe_r2(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, alpha: float = 1.0) -> float:
    """Closed-form ridge regression x -> y on standardised features; mean R2 on the test rows over the
    state columns that vary there (R2 is undefined for a constant column); NaN when none varies."""
    x_train, y_train, x_test, y_test = (t.double() for t in (x_train, y_train, x_test, y_test))
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mu) / sd, (x_test - mu) / sd  # [Mtr, D], [Mte, D]
    y_mean = y_train.mean(0)
    if a.shape[1] <= a.shape[0]:  # primal: solve in feature space
        gram = a.T @ a + alpha * torch.eye(a.shape[1], dtype=a.dtype)  # [D, D]
        w = torch.linalg.solve(gram, a.T @ (y_train - y_mean))  # [D, S]
    else:  # dual (same solution), for token-grid features wider than the sample count
        kernel = a @ a.T + alpha * torch.eye(a.shape[0], dtype=a.dtype)  # [Mtr, Mtr]
        w = a.T @ torch.linalg.solve(kernel, y_train - y_mean)  # [D, S]
    pred = b @ w + y_mean  # [Mte, S]
    ss_res = ((pred - y_test) ** 2).sum(0)
    ss_tot = ((y_test - y_test.mean(0)) ** 2).sum(0)
    varies = ss_tot > 1e-9 * len(y_test)  # a constant column gave R2 ~ -1e14 from rounding noise
    return float((1 - ss_res[varies] / ss_tot[varies]).mean()) if varies.any() else math.nan


ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def heldout_probe_r2(x: Tensor, y: Tensor, episode: Tensor, train: Tensor, test: Tensor) -> float:
    """Ridge probe x [M, F] -> y [M, S] fitted on rows `train`, mean R2 on rows `test`; alpha picked
    on the last training episodes (never on the test rows)."""
    x_tr, y_tr = x[train], y[train]
    if len(episode[train].unique()) >= 2:
        fit, val = split_episodes(episode[train])
        alpha = max(ALPHAS, key=lambda a: probe_r2(x_tr[fit], y_tr[fit], x_tr[val], y_tr[val], a))
    else:
        alpha = 1.0
    return probe_r2(x_tr, y_tr, x[test], y[test], alpha)


def episode_probe_r2(x: Tensor, probe: ProbeSet) -> float | None:
    """Held-out-episode probe R2 of features x [M, F] (the last 25% of the probe's episodes); None when
    the probe has fewer than MIN_PROBE_EPISODES episodes or no state column varies on the held-out ones."""
    if len(probe.episode.unique()) < MIN_PROBE_EPISODES:
        return None
    train, test = probe.split()
    r2 = heldout_probe_r2(x, probe.state, probe.episode, train, test)
    return None if math.isnan(r2) else r2


def describe_r2(r2: float | None) -> str:
    """A probe R2 for the log: the number, or why there is none."""
    if r2 is None:
        return f"n/a (needs >= {MIN_PROBE_EPISODES} episodes with varying state)"
    return f"{r2:.3f}"


def collapse_report(z: Tensor, probe: ProbeSet) -> dict[str, float | None]:
    """std, effective rank and held-out-episode probe R2 (None: too few episodes) of embeddings z [M, D]."""
    return {
        "emb_std": embedding_std(z),
        "eff_rank": effective_rank(z),
        "probe_r2": episode_probe_r2(z, probe),
    }


def warn_if_collapsed(report: dict[str, float | None], std_min: float, rank_min: float) -> bool:
    """Log a loud warning (and return True) when the spread or the rank has collapsed."""
    collapsed = report["emb_std"] < std_min or report["eff_rank"] < rank_min
    if collapsed:
        log.warning(
            "!!! ENCODER COLLAPSE: embedding std %.4f (min %.4f), effective rank %.2f (min %.2f)",
            report["emb_std"],
            std_min,
            report["eff_rank"],
            rank_min,
        )
    return collapsed

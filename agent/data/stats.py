"""Per-episode feature statistics (LeRobot's min/max/mean/std/count and q01..q99) and their
aggregation, as lerobot.datasets.compute_stats defines them."""

from __future__ import annotations

import numpy as np

Stats = dict[str, np.ndarray]
# LeRobot >= 0.4 (DEFAULT_QUANTILES): policies normalizing with QUANTILES / QUANTILE10 (pi0.5's
# default for state and action) need q01/q99 resp. q10/q90 in stats.json.
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
BASE_KEYS = ("min", "max", "mean", "std", "count")
STAT_KEYS = BASE_KEYS + QUANTILE_KEYS


def array_stats(values: np.ndarray) -> Stats:
    """Stats over axis 0 of [N, ...] numeric values; a column of scalars gives shape (1,) stats."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = {
        "min": x.min(0),
        "max": x.max(0),
        "mean": x.mean(0),
        "std": x.std(0),
        "count": np.array([len(x)]),
    }
    # inverted CDF (the smallest value whose cumulative share reaches q): what LeRobot's histogram
    # quantiles approximate (to within a 1/5000-of-range bin)
    out.update(zip(QUANTILE_KEYS, np.quantile(x, QUANTILES, axis=0, method="inverted_cdf"), strict=True))
    return out


def histogram_quantiles(hist: np.ndarray, scale: float = 1.0) -> Stats:
    """Quantiles of integer values 0..K-1 from per-channel counts hist [C, K]: for each q the
    smallest value whose cumulative count reaches q x total, times `scale`; shape (C, 1, 1)."""
    cdf = np.cumsum(hist, axis=1)
    out = {}
    for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        idx = np.array([np.searchsorted(c, q * c[-1], side="left") for c in cdf], dtype=np.float64)
        out[key] = (idx * scale).reshape(-1, 1, 1)
    return out


def aggregate(per_episode: list[Stats]) -> Stats:
    """Combine episode stats: extreme min/max, count-weighted mean, pooled variance and (as
    LeRobot's aggregate_stats) count-weighted mean quantiles, where every episode has them."""
    counts = np.array([s["count"][0] for s in per_episode], dtype=np.float64)
    total = counts.sum()
    shape = (-1,) + (1,) * per_episode[0]["mean"].ndim
    w = (counts / total).reshape(shape)
    means = np.stack([s["mean"] for s in per_episode])
    mean = (w * means).sum(0)
    var = (w * (np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2)).sum(0)
    out = {
        "min": np.min([s["min"] for s in per_episode], axis=0),
        "max": np.max([s["max"] for s in per_episode], axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(total)]),
    }
    for key in QUANTILE_KEYS:
        if all(key in s for s in per_episode):
            out[key] = (w * np.stack([s[key] for s in per_episode])).sum(0)
    return out


def to_json(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def from_columns(row: dict, features: list[str]) -> dict[str, Stats]:
    """Episode stats from an episodes-table row (columns stats/<feature>/<stat>); quantiles are
    absent from episodes recorded before amibot wrote them."""
    return {
        f: {
            k: np.asarray(row[f"stats/{f}/{k}"], dtype=np.float64)
            for k in STAT_KEYS
            if row.get(f"stats/{f}/{k}") is not None
        }
        for f in features
        if f"stats/{f}/count" in row
    }

"""Per-episode feature statistics (LeRobot's min/max/mean/std/count) and their aggregation."""

from __future__ import annotations

import numpy as np

Stats = dict[str, np.ndarray]
STAT_KEYS = ("min", "max", "mean", "std", "count")


def array_stats(values: np.ndarray) -> Stats:
    """Stats over axis 0 of [N, ...] numeric values; a column of scalars gives shape (1,) stats."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return {
        "min": x.min(0),
        "max": x.max(0),
        "mean": x.mean(0),
        "std": x.std(0),
        "count": np.array([len(x)]),
    }


def aggregate(per_episode: list[Stats]) -> Stats:
    """Combine episode stats: extreme min/max, count-weighted mean, pooled variance."""
    counts = np.array([s["count"][0] for s in per_episode], dtype=np.float64)
    total = counts.sum()
    shape = (-1,) + (1,) * per_episode[0]["mean"].ndim
    w = (counts / total).reshape(shape)
    means = np.stack([s["mean"] for s in per_episode])
    mean = (w * means).sum(0)
    var = (w * (np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2)).sum(0)
    return {
        "min": np.min([s["min"] for s in per_episode], axis=0),
        "max": np.max([s["max"] for s in per_episode], axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(total)]),
    }


def to_json(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def from_columns(row: dict, features: list[str]) -> dict[str, Stats]:
    """Episode stats from an episodes-table row (columns stats/<feature>/<stat>)."""
    return {
        f: {k: np.asarray(row[f"stats/{f}/{k}"], dtype=np.float64) for k in STAT_KEYS}
        for f in features
        if f"stats/{f}/count" in row
    }

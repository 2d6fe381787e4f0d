"""Training metrics: one JSON object per line in out/metrics.jsonl, plotted to out/metrics.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

PANELS = [("loss",), ("lr",), ("emb_std",), ("eff_rank",), ("probe_r2", "pca_probe_r2")]


class MetricsLog:
    """Append-only JSONL log; on resume, rows past the checkpoint step are dropped."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        rows = self.rows() if resume_step is not None and path.exists() else []
        kept = [r for r in rows if r["step"] <= (resume_step or 0)]
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]


def plot_metrics(rows: list[dict[str, Any]], path: Path, groups: list[tuple[str, ...]] = PANELS) -> None:
    """One panel per metric group against step (matplotlib's Agg canvas, no display needed)."""
    panels = [keys for keys in groups if any(r.get(k) is not None for r in rows for k in keys)]
    fig = Figure(figsize=(4 * max(1, len(panels)), 3.2))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for ax, keys in zip(axes, panels, strict=False):
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]  # None: not measurable (probe R2)
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="." if len(pts) < 50 else None, label=key)
        ax.set_xlabel("step")
        ax.set_title(" / ".join(keys))
        if keys == ("lr",):
            ax.set_yscale("log")
        if len(keys) > 1:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)

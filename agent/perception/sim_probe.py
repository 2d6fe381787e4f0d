"""Linear probe of a trained encoder on sim recordings: `python -m agent.perception.sim_probe`.

Compares the trained checkpoint, the same architecture at its initial (random) weights and PCA of
the pixels at the same feature width, with one ridge probe (collapse.heldout_probe_r2) fitted on
training episodes and scored on held-out episodes, per target: robot (x, y) and the task's object
(x, y, z), from the recording's privileged environment state.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import Dataset

from agent.data.spec import ENV_NAMES
from agent.perception.baselines import pca_features
from agent.perception.checkpoint import CHECKPOINT, load_model
from agent.perception.clips import open_clips
from agent.perception.collapse import ProbeSet, heldout_probe_r2
from agent.perception.config import Config, config_from_dict
from agent.perception.model import VJEPA

log = logging.getLogger(__name__)

# Probe targets: name -> columns of the state (ENV_NAMES order).
TARGETS = {"robot": (0, 1), "target": (2, 3, 4)}


def pooled(model: VJEPA, clip: Tensor) -> Tensor:
    """Target-encoder tokens averaged over time and space: clip [B, T, 3, H, W] -> [B, D]."""
    return model.encode(clip).mean(1)


def grid(model: VJEPA, clip: Tensor) -> Tensor:
    """model.embed (what the node publishes) flattened: [B, H'*W'*D]."""
    return model.embed(clip).flatten(1)


FEATURES: dict[str, Callable[[VJEPA, Tensor], Tensor]] = {"pooled": pooled, "grid": grid}


def features(model: VJEPA, clips: Tensor, kind: str, batch: int = 64) -> Tensor:
    """Features [M, F] of clips [M, T, 3, H, W] (float64 on the CPU, for the probe), computed on the model's device."""
    fn = FEATURES[kind]
    return torch.cat([fn(model, c).double().cpu() for c in clips.split(batch)])


def random_init(cfg: Config) -> VJEPA:
    """The run's architecture at the weights training started from (train() seeds with train.seed)."""
    with torch.random.fork_rng(devices=[]):  # leaves the caller's RNG state alone
        torch.manual_seed(cfg.train.seed)
        return VJEPA(cfg.encoder).eval()


def probe_data(fit: Dataset, heldout: Dataset | None, clips: int, heldout_clips: int) -> tuple[ProbeSet, Tensor]:
    """One ProbeSet of `clips` clips spread over `fit` and `heldout_clips` over `heldout`, and its test
    mask; held-out episode ids are renumbered after the fit ones. Without `heldout` the last 25% of
    `fit`'s episodes are the test rows (as the collapse watch does)."""
    a = ProbeSet.from_dataset(fit, clips)
    if heldout is None:
        return a, a.split()[1]
    b = ProbeSet.from_dataset(heldout, heldout_clips)
    ids = torch.cat([a.episode, b.episode + int(a.episode.max()) + 1])
    both = ProbeSet(torch.cat([a.clips, b.clips]), torch.cat([a.state, b.state]), ids)
    test = torch.arange(len(ids)) >= len(a.episode)
    return both, test


def probe_table(feats: dict[str, Tensor], probe: ProbeSet, test: Tensor) -> dict[str, dict[str, float]]:
    """R2 on the test rows per feature set and target: {feature set: {target: R2}}."""
    return {
        name: {
            t: heldout_probe_r2(x, probe.state[:, list(cols)], probe.episode, ~test, test)
            for t, cols in TARGETS.items()
        }
        for name, x in feats.items()
    }


def evaluate(
    model: VJEPA, cfg: Config, probe: ProbeSet, test: Tensor, kind: str = "grid"
) -> tuple[dict[str, dict[str, float]], int]:
    """{trained, random init, PCA}: {target: R2}, and the feature width shared by all three."""
    models = {"trained": model, "random init": random_init(cfg)}
    feats = {name: features(m, probe.clips, kind) for name, m in models.items()}
    width = feats["trained"].shape[1]
    pca = pca_features(probe.clips.flatten(1), ~test, width)  # width capped by the fit clip count
    feats[f"PCA of pixels ({pca.shape[1]} components)"] = pca
    return probe_table(feats, probe, test), width


def markdown(table: dict[str, dict[str, float]]) -> str:
    """Rows = feature sets, columns = targets."""
    lines = ["| features | " + " | ".join(f"R2 {t}" for t in TARGETS) + " |"]
    lines.append("| --- |" + " --- |" * len(TARGETS))
    lines += [f"| {name} | " + " | ".join(f"{r[t]:.3f}" for t in TARGETS) + " |" for name, r in table.items()]
    return "\n".join(lines)


def plot(table: dict[str, dict[str, float]], path: Path) -> None:
    """Grouped bars: one group per target, one bar per feature set."""
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    width = 0.8 / len(table)
    for i, (name, r) in enumerate(table.items()):
        ax.bar([j + i * width for j in range(len(TARGETS))], [r[t] for t in TARGETS], width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(TARGETS))], [f"{t} position" for t in TARGETS])
    ax.set_ylabel("held-out R2")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.perception.sim_probe", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="sim recording the encoder trained on (probe fit)")
    p.add_argument("--heldout", type=Path, help="later episodes never trained on (default: last 25%% of --data)")
    p.add_argument("--run", required=True, type=Path, help="run dir with checkpoint.pt; results go here")
    p.add_argument("--features", default="grid", choices=FEATURES, help="grid: model.embed, what the node publishes")
    p.add_argument("--clips", type=int, default=2000, help="probe clips from --data")
    p.add_argument("--heldout-clips", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    ckpt = args.run / CHECKPOINT
    model = load_model(ckpt)
    cfg = config_from_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["config"], str(ckpt))
    e, step = cfg.encoder, cfg.train.frame_step
    fit = open_clips(args.data, e.frames, img_size=e.img_size, frame_step=step)
    held = open_clips(args.heldout, e.frames, img_size=e.img_size, frame_step=step) if args.heldout else None
    probe, test = probe_data(fit, held, args.clips, args.heldout_clips)
    if probe.state.shape[1] != len(ENV_NAMES):
        raise SystemExit(f"state has {probe.state.shape[1]} columns, expected {ENV_NAMES} (a sim recording)")
    table, width = evaluate(model, cfg, probe, test, args.features)
    text = markdown(table)
    print(text)
    out = {"table": table, "features": args.features, "width": width, "fit_clips": int((~test).sum()),
           "test_clips": int(test.sum()), "test_episodes": int(probe.episode[test].unique().numel()),
           "data": str(args.data), "heldout": str(args.heldout), "seconds": time.monotonic() - t0}  # fmt: skip
    stem = f"sim_probe_{args.features}"
    (args.run / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
    (args.run / f"{stem}.md").write_text(text + "\n")
    plot(table, args.run / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learning check: briefly trained encoder vs the same architecture at random init (probe R2)."""

from pathlib import Path

import pytest
import torch

from agent.perception.clips import ClipDataset, synthetic_episodes
from agent.perception.collapse import ProbeSet, collapse_report
from agent.perception.model import VJEPA
from agent.perception.train import train


@pytest.mark.xfail(
    strict=False,
    reason="open: seconds of V-JEPA training do not yet beat random init on a pooled-embedding "
    "linear probe of object positions (measured: trained <= random); see docs/perception.md",
)
def test_trained_encoder_probes_better_than_random(make_config, tmp_path: Path) -> None:
    data = ClipDataset(synthetic_episodes(32, length=10, size=32, seed=0), frames=4, hop=2)
    probe = ProbeSet.from_dataset(data, 400)
    cfg = make_config(
        steps=120, batch_size=8, lr=1e-3, warmup_steps=10, ema_start=0.99, probe_every=0
    )
    torch.manual_seed(cfg.train.seed)
    random_r2 = collapse_report(VJEPA(cfg.encoder).embed(probe.clips), probe)["probe_r2"]
    trained = train(cfg, data, tmp_path / "run", progress=False)
    trained_r2 = collapse_report(trained.embed(probe.clips), probe)["probe_r2"]
    print(f"probe R2 trained {trained_r2:.3f} random {random_r2:.3f}")
    assert trained_r2 > random_r2 + 0.05, (trained_r2, random_r2)

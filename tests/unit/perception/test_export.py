"""An exported inference model: smaller than the training checkpoint, same embeddings within fp16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agent.perception.checkpoint import CHECKPOINT, export_model, load_model, main
from agent.perception.inference import checkpoint_config
from agent.perception.train import train


def test_export_keeps_the_model_and_drops_the_training_state(make_config, clips, tmp_path: Path) -> None:
    train(make_config(), clips, tmp_path / "run", progress=False)
    src = tmp_path / "run" / CHECKPOINT
    dst = export_model(src, tmp_path / "model.pt")
    assert dst.stat().st_size < 0.6 * src.stat().st_size  # no optimizer state, fp16 weights
    assert checkpoint_config(dst) == checkpoint_config(src)  # the perception node's config check still works
    clip = clips[0]["clip"][None]
    with torch.no_grad():
        full, small = load_model(src).embed(clip), load_model(dst).embed(clip)
    assert small.dtype == torch.float32
    assert torch.allclose(full, small, atol=2e-2, rtol=2e-2) and not torch.equal(full, small)  # fp16 rounding only
    assert main(["export", str(src), str(tmp_path / "fp32.pt"), "--fp32"]) == 0
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "fp32.pt").embed(clip), full)


def test_export_refuses_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an encoder checkpoint"):
        export_model(tmp_path / "other.pt", tmp_path / "out.pt")


def test_the_shipped_model_matches_its_config_and_encodes() -> None:
    """models/encoder_tiny_sim.pt (make demo's perception) fits configs/models/encoder_tiny_sim.yaml."""
    from agent.perception.config import load_config
    from agent.perception.inference import encoder_mismatch

    repo = Path(__file__).resolve().parents[3]
    shipped, cfg = repo / "models" / "encoder_tiny_sim.pt", load_config(repo / "configs/models/encoder_tiny_sim.yaml")
    assert not encoder_mismatch(checkpoint_config(shipped).encoder, cfg.encoder)
    e = cfg.encoder
    clip = torch.rand(2, e.frames, 3, e.img_size, e.img_size)
    with torch.no_grad():
        z = load_model(shipped).embed(clip)
    assert z.shape == (2, (e.img_size // e.patch) ** 2, e.dim) and torch.isfinite(z).all()
    assert z.std(0).mean() > 1e-3  # different clips, different embeddings

"""Shared fixtures for world-model tests: a tiny random encoder checkpoint and a small dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agent.perception.config import config_from_dict
from agent.perception.model import VJEPA
from tests.unit.data.helpers import make_dataset

torch.set_num_threads(1)


def save_encoder(path: Path, seed: int = 0) -> Path:
    """A random 32x32 encoder (16 tokens x 16 wide, clips of 4 frames every 2nd) saved as a checkpoint."""
    enc = dict(img_size=32, frames=4, dim=16, depth=1, heads=2, pred_dim=8, pred_depth=1, pred_heads=2)
    cfg = config_from_dict({"encoder": enc, "train": {"frame_step": 2}}, "<test>")
    torch.manual_seed(seed)
    model = VJEPA(cfg.encoder)
    state = {"step": 0, "config": cfg.to_dict()}
    state.update({part: getattr(model, part).state_dict() for part in ("encoder", "target", "predictor")})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.fixture
def encoder(tmp_path: Path) -> Path:
    return save_encoder(tmp_path / "models" / "enc.pt")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Three episodes of 9, 3 and 6 frames (32x48 images: the encoder resizes them)."""
    return make_dataset(tmp_path / "data", [9, 3, 6])

"""Shared fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from agent.perception.clips import ClipDataset, synthetic_episodes
from agent.perception.config import config_from_dict
from agent.perception.train import train
from tests.integration.procs import LaunchRun, kill_all, launched_by

ENCODER = dict(img_size=32, frames=4, dim=32, depth=1, heads=2, pred_dim=16, pred_depth=1, pred_heads=2)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a tiny encoder trained for a few steps (run/checkpoint.pt), and its model.yaml."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("encoder")
    train_cfg = dict(steps=4, batch_size=4, warmup_steps=1, probe_every=0, frame_step=1)
    cfg = config_from_dict({"encoder": ENCODER, "train": train_cfg})
    data = ClipDataset(synthetic_episodes(4, length=6, size=32, seed=0), frames=4)
    train(cfg, data, out / "run", progress=False)
    (out / "model.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    return out


@pytest.fixture
def runs() -> Iterator[list[LaunchRun]]:
    """Launcher runs a test started; never leaves their processes behind, whatever the test did."""
    started: list[LaunchRun] = []
    yield started
    for run in started:
        kill_all([*run.pids().values(), *launched_by(run.proc.pid)])
        run.kill()

"""Shared fixtures for perception tests: a very small config and synthetic clips."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch

from agent.perception.clips import ClipDataset, synthetic_episodes
from agent.perception.config import Config, config_from_dict

torch.set_num_threads(1)
# Tests train on the CPU whatever the machine has, unless asked: AMIBOT_TEST_DEVICE=cuda runs them on the GPU.
DEVICE = os.environ.get("AMIBOT_TEST_DEVICE", "cpu")


def small_config(**train: object) -> Config:
    """32x32 frames, 4-frame clips (32 tokens), width 32: each step takes milliseconds."""
    enc = dict(img_size=32, frames=4, dim=32, depth=1, heads=2, pred_dim=16, pred_depth=1)
    enc["pred_heads"] = 2
    base = dict(steps=6, batch_size=4, warmup_steps=2, log_every=1, ckpt_every=2, device=DEVICE)
    base.update(probe_every=3, probe_clips=24)
    base.update(train)
    return config_from_dict({"encoder": enc, "train": base}, "<test>")


@pytest.fixture(scope="session")
def clips() -> ClipDataset:
    return ClipDataset(synthetic_episodes(6, length=8, size=32, seed=1), frames=4)


@pytest.fixture
def device() -> torch.device:
    """The device tests train on (train.device of make_config): cpu unless AMIBOT_TEST_DEVICE says otherwise."""
    return torch.device(DEVICE)


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """small_config as a fixture; keyword arguments override train fields."""
    return small_config

"""Shared safety test fixtures: the default config as the node would load it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.config import load_config
from agent.safety.config import SafetyConfig

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "safety" / "mobile_so101.yaml"
WIRING = ["publish=inproc://safety-test", "inputs={cmd.proposed: inproc://a, obs: inproc://b}"]


def load(*overrides: str) -> SafetyConfig:
    return load_config(SafetyConfig, CONFIG, [*WIRING, *overrides])


@pytest.fixture(scope="session")
def cfg() -> SafetyConfig:
    return load("collision.scene=")

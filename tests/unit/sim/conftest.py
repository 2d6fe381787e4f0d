"""Shared fixtures for the sim tests: one headless world per module, small images."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sim.world import SimWorld


@pytest.fixture(scope="module")
def world() -> Iterator[SimWorld]:
    w = SimWorld("mobile_so101", image_size=(32, 32))
    yield w
    w.close()

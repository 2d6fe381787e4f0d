"""Stats in LeRobot's schema: min/max/mean/std/count and the q01..q99 quantiles LeRobot >= 0.4
normalizes with (pi0.5: QUANTILES), per episode and aggregated; older datasets still resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from agent.data import layout as L
from agent.data.reader import Dataset
from agent.data.stats import QUANTILE_KEYS, QUANTILES, STAT_KEYS, histogram_quantiles
from agent.data.validate import DatasetError, validate
from agent.data.writer import DatasetWriter
from tests.unit.data.helpers import make_dataset, write_episode


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("stats") / "ds", [9, 5])


@pytest.fixture
def root(clean: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def test_quantile_keys_are_lerobots() -> None:
    # lerobot.datasets.compute_stats.DEFAULT_QUANTILES, named f"q{int(q * 100):02d}"
    assert QUANTILES == (0.01, 0.10, 0.50, 0.90, 0.99)
    assert QUANTILE_KEYS == ("q01", "q10", "q50", "q90", "q99")


def test_stats_json_has_quantiles_for_every_feature(clean: Path) -> None:
    stats = json.loads((clean / L.STATS_PATH).read_text())
    ds = Dataset(clean)
    for name, ft in ds.features.items():
        assert set(stats[name]) == set(STAT_KEYS), name
        shape = (3, 1, 1) if ft["dtype"] == "video" else tuple(ft["shape"])
        qs = [np.asarray(stats[name][k]) for k in ("min", *QUANTILE_KEYS, "max")]
        assert all(q.shape == shape for q in qs), name
        assert all(np.all(a <= b + 1e-12) for a, b in zip(qs, qs[1:], strict=False)), name
    # per episode: the inverted-CDF quantile of the episode's values (what LeRobot approximates)
    for ep, row in enumerate(ds.episodes):
        x = ds.episode(ep)["action"].astype(np.float64)
        for k, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
            want = np.quantile(x, q, axis=0, method="inverted_cdf")
            np.testing.assert_allclose(row[f"stats/action/{k}"], want)


def test_histogram_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, size=(5000, 3))
    hist = np.stack([np.bincount(px[:, c], minlength=256) for c in range(3)])
    got = histogram_quantiles(hist, 1 / 255)
    for k, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        want = np.quantile(px, q, axis=0, method="inverted_cdf") / 255
        np.testing.assert_allclose(got[k].reshape(3), want)


def test_validate_requires_quantiles(root: Path) -> None:
    stats = json.loads((root / L.STATS_PATH).read_text())
    del stats["action"]["q99"]
    (root / L.STATS_PATH).write_text(json.dumps(stats))
    with pytest.raises(DatasetError, match=r"stats.json: action.q99 missing"):
        validate(root)


def test_resume_dataset_recorded_without_quantiles(root: Path) -> None:
    """Datasets from before quantiles: resume appends; aggregate stays min..count (as LeRobot)."""
    table = pq.read_table(root / L.EPISODES_PATH)
    old = [c for c in table.column_names if c.rsplit("/", 1)[-1] in QUANTILE_KEYS]
    pq.write_table(table.drop_columns(old), root / L.EPISODES_PATH)
    stats = json.loads((root / L.STATS_PATH).read_text())
    stats = {f: {k: v for k, v in s.items() if k not in QUANTILE_KEYS} for f, s in stats.items()}
    (root / L.STATS_PATH).write_text(json.dumps(stats))
    validate(root)
    with DatasetWriter(root, resume=True) as w:
        write_episode(w, 2, 4)
    validate(root)
    rows = Dataset(root).episodes
    assert rows[0]["stats/action/q01"] is None and rows[2]["stats/action/q01"] is not None
    assert "q01" not in json.loads((root / L.STATS_PATH).read_text())["action"]

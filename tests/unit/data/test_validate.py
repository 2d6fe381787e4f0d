"""validate() names the first problem: truncated parquet, missing or short video, bad meta."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.data import layout as L
from agent.data.validate import DatasetError, validate
from tests.unit.data.helpers import make_dataset


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("clean") / "ds", [6, 4])


@pytest.fixture
def root(clean: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def test_clean_dataset_validates(root: Path) -> None:
    assert validate(root) == {"episodes": 2, "frames": 10, "tasks": 2, "fps": 10}


def test_truncated_parquet(root: Path) -> None:
    path = root / L.data_file(0, 0)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data/chunk-000/file-000.parquet: truncated or corrupt"):
        validate(root)


def test_missing_video(root: Path) -> None:
    (root / L.video_file("observation.images.wrist", 0, 0)).unlink()
    with pytest.raises(DatasetError, match=r"missing video videos/observation.images.wrist/chunk-000"):
        validate(root)


def test_truncated_video(root: Path) -> None:
    path = root / L.video_file("observation.images.head", 0, 0)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"observation.images.head/chunk-000/file-000.mp4: "):
        validate(root)


def test_total_frames_mismatch(root: Path) -> None:
    info = json.loads((root / L.INFO_PATH).read_text())
    info["total_frames"] += 1
    (root / L.INFO_PATH).write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="episodes hold 10 frames, info.json says 11"):
        validate(root)


def test_stats_mismatch(root: Path) -> None:
    stats = json.loads((root / L.STATS_PATH).read_text())
    stats["action"]["mean"][0] += 1.0
    (root / L.STATS_PATH).write_text(json.dumps(stats))
    with pytest.raises(DatasetError, match=r"stats.json: action.mean does not match"):
        validate(root)


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="missing meta/info.json"):
        validate(tmp_path)

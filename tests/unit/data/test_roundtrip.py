"""Write -> read round trip of a multi-episode dataset, resume, clips, LeRobot-layout details."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from agent.data import layout as L
from agent.data.clips import ClipDataset
from agent.data.reader import Dataset
from agent.data.validate import validate
from agent.data.video import frame_times
from agent.data.writer import DatasetWriter
from tests.unit.data.helpers import SPEC, episode_arrays, image, make_dataset, write_episode

LENGTHS = [12, 7, 20]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds") / "ds", LENGTHS)


def test_round_trip_values_frames_timestamps(root: Path) -> None:
    ds = Dataset(root)
    assert len(ds) == 3 and ds.info["total_frames"] == sum(LENGTHS)
    for ep, n in enumerate(LENGTHS):
        got = ds.episode(ep)
        state, action = episode_arrays(ep, n)
        np.testing.assert_array_equal(got["observation.state"], state)
        np.testing.assert_array_equal(got["action"], action)
        np.testing.assert_array_equal(got["timestamp"], (np.arange(n) / 10).astype(np.float32))
        np.testing.assert_array_equal(got["frame_index"], np.arange(n))
        np.testing.assert_array_equal(got["capture_time"], 100.0 * ep + np.arange(n) / 10)
        assert got["meta"]["seed"] == ep and got["meta"]["tasks"] == [f"task {ep % 2}"]
        for cam, key in enumerate(ds.video_keys):
            frames = ds.frames(key, ep)
            want = np.stack([image(ep, t, cam) for t in range(n)])
            assert frames.shape == want.shape
            assert np.abs(frames.astype(int) - want).mean() < 3.0  # codec tolerance


def test_layout_is_lerobot_v3(root: Path) -> None:
    info = json.loads((root / L.INFO_PATH).read_text())
    assert info["codebase_version"] == "v3.0" and info["splits"] == {"train": "0:3"}
    assert info["total_tasks"] == 2 and info["chunks_size"] == 1000
    head = info["features"]["observation.images.head"]
    assert head["dtype"] == "video" and head["info"]["video.pix_fmt"] == "yuv420p"
    tasks = pq.read_table(root / L.TASKS_PATH)
    assert tasks["task"].to_pylist() == ["task 0", "task 1"]
    assert b"pandas" in tasks.schema.metadata  # pandas restores the task strings as the index
    eps = pq.read_table(root / L.EPISODES_PATH).to_pylist()
    assert [e["videos/observation.images.head/from_timestamp"] for e in eps] == [0.0, 1.2, 1.9]
    assert eps[2]["stats/observation.images.head/mean"][0] == [[pytest.approx(0.6, abs=0.4)]]
    times = frame_times(root / L.video_file("observation.images.head", 0, 0))
    np.testing.assert_allclose(times, np.arange(sum(LENGTHS)) / 10, atol=1e-9)  # one CFR stream
    assert validate(root)["frames"] == sum(LENGTHS)


def test_resume_appends(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", [5, 6])
    with pytest.raises(FileExistsError):
        DatasetWriter(root, SPEC)
    with DatasetWriter(root, resume=True) as w:
        write_episode(w, 2, 9)
    ds = Dataset(root)
    assert [e["length"] for e in ds.episodes] == [5, 6, 9]
    assert ds.episodes[2]["dataset_from_index"] == 11
    np.testing.assert_array_equal(ds.episode(2)["action"], episode_arrays(2, 9)[1])
    validate(root)


def test_discard_leaves_nothing(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", [4])
    with DatasetWriter(root, resume=True) as w:
        w.start_episode("x")
        state, action = episode_arrays(0, 1)
        w.add_frame(state[0], action[0], {"head": image(0, 0, 0), "wrist": image(0, 0, 1)}, 0.0)
        w.discard_episode()
    assert not (root / L.STAGING).exists()
    assert validate(root)["episodes"] == 1


def test_clips(root: Path) -> None:
    clips = ClipDataset(root, clip_len=5, camera="wrist")
    assert len(clips) == sum(n - 4 for n in LENGTHS)
    item = clips[len(clips) - 1]
    assert item["clip"].shape == (5, 3, 32, 48) and item["episode"] == 2
    assert 0.0 <= float(item["clip"].min()) and float(item["clip"].max()) <= 1.0
    np.testing.assert_array_equal(item["action"].numpy(), episode_arrays(2, 20)[1][15:20])
    want = image(2, 19, 1).transpose(2, 0, 1) / 255.0
    assert np.abs(item["clip"][-1].numpy() - want).mean() < 3 / 255


def test_small_file_limits_roll_over(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path / "ds", SPEC, video_files_size_in_mb=0, data_files_size_in_mb=0) as w:
        for ep in range(3):
            write_episode(w, ep, 4)
    ds = Dataset(tmp_path / "ds")
    assert [e["data/file_index"] for e in ds.episodes] == [0, 1, 2]
    assert [e["videos/observation.images.head/from_timestamp"] for e in ds.episodes] == [0, 0, 0]
    validate(tmp_path / "ds")

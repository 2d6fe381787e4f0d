"""Both directions with LeRobot 0.4.4: what amibot writes matches LeRobot's conventions (codec name,
policy inputs), and datasets LeRobot's own writer produces (tests/fixtures/lerobot_v30.py) are read,
trained on and validated."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from agent.data import dataset_cli
from agent.data import layout as L
from agent.data.clips import ClipDataset
from agent.data.reader import Dataset
from agent.data.validate import DatasetError, validate
from agent.data.writer import DatasetWriter
from agent.perception.clips import open_clips, square_frames
from agent.perception.train import main as train_main
from tests.fixtures.lerobot_v30 import CAMERAS, TASKS, policy_inputs, video_info, write_lerobot_dataset
from tests.unit.data.helpers import SPEC, make_dataset, write_episode

ENV = ("robot.x", "robot.y")
SIM = replace(SPEC, env_names=ENV)  # a sim recording: privileged state beside proprio


@pytest.fixture(scope="module")
def lerobot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lerobot_dataset(tmp_path_factory.mktemp("lerobot") / "so101")


def _sim_dataset(root: Path, **spec: object) -> Path:
    with DatasetWriter(root, replace(SIM, **spec)) as w:
        for ep in range(2):
            w.start_episode("go")
            for t in range(6):
                imgs = {"head": np.full((32, 48, 3), 10 * t, np.uint8), "wrist": np.zeros((32, 48, 3), np.uint8)}
                w.add_frame(np.zeros(6), np.zeros(6), imgs, 1.0 + t, np.array([ep, t], np.float32))
            w.save_episode()
    return root


# ----- amibot -> LeRobot ---------------------------------------------------------------------------
def test_info_names_the_video_codec_as_lerobot_does(tmp_path: Path) -> None:
    """LeRobot's merge_datasets needs equal features: video info is what its get_video_info reads."""
    root = make_dataset(tmp_path / "ds", [3])
    info = json.loads((root / L.INFO_PATH).read_text())
    for key in ("observation.images.head", "observation.images.wrist"):
        assert info["features"][key]["info"] == video_info(root / L.video_file(key, 0, 0))
    assert info["features"]["observation.images.head"]["info"]["video.codec"] in ("h264", "mpeg4")
    with DatasetWriter(root, resume=True) as w:  # resuming encodes with the same encoder
        write_episode(w, 1, 4)
    assert validate(root)["episodes"] == 2


def test_privileged_and_bookkeeping_columns_are_no_policy_inputs(tmp_path: Path) -> None:
    root = _sim_dataset(tmp_path / "sim")
    feats = Dataset(root).features
    assert policy_inputs(feats) == {
        "observation.state",
        "action",
        "observation.images.head",
        "observation.images.wrist",
    }
    assert L.CAPTURE_TIME in feats and L.ENV_STATE in feats
    clips = ClipDataset(root, clip_len=3)
    np.testing.assert_array_equal(clips[len(clips) - 1]["env_state"].numpy(), [[1, 3], [1, 4], [1, 5]])
    np.testing.assert_array_equal(Dataset(root).episode(1)[L.CAPTURE_TIME], 1.0 + np.arange(6))
    assert open_clips(root, 2).state_names == list(ENV)  # the probe target stays the privileged state
    validate(root)


def test_privileged_obs_asks_for_environment_state_as_an_input(tmp_path: Path) -> None:
    root = _sim_dataset(tmp_path / "sim", privileged_obs=True)
    feats = Dataset(root).features
    assert L.OBS_ENV_STATE in policy_inputs(feats) and L.ENV_STATE not in feats
    assert L.CAPTURE_TIME not in policy_inputs(feats)
    assert ClipDataset(root, clip_len=2)[0]["env_state"].shape == (2, 2)
    with DatasetWriter(root, resume=True) as w:  # resume keeps the dataset's own layout
        assert w.spec.privileged_obs
    validate(root)


def test_datasets_with_the_old_column_names_read_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded before the move: observation.capture_time and observation.environment_state."""
    with monkeypatch.context() as m:
        m.setattr(L, "CAPTURE_TIME", L.OLD_CAPTURE_TIME)
        root = _sim_dataset(tmp_path / "old", privileged_obs=True)
    assert {L.OLD_CAPTURE_TIME, L.OBS_ENV_STATE} <= set(Dataset(root).features)
    with DatasetWriter(root, resume=True) as w:
        w.start_episode("go")
        for t in range(4):
            imgs = {"head": np.zeros((32, 48, 3), np.uint8), "wrist": np.zeros((32, 48, 3), np.uint8)}
            w.add_frame(np.zeros(6), np.zeros(6), imgs, 7.0, np.array([2, t], np.float32))
        w.save_episode()
    ds = Dataset(root)
    np.testing.assert_array_equal(ds.episode(2)[L.OLD_CAPTURE_TIME], [7.0] * 4)
    assert ClipDataset(root, clip_len=4)[-1]["env_state"][-1].tolist() == [2, 3]
    assert validate(root)["episodes"] == 3


# ----- LeRobot -> amibot ---------------------------------------------------------------------------
def test_lerobot_dataset_reads(lerobot_root: Path) -> None:
    assert validate(lerobot_root) == {"episodes": 3, "frames": 30, "tasks": 2, "fps": 30}
    ds = Dataset(lerobot_root)
    assert ds.tasks == list(TASKS)  # LeRobot's tasks.parquet: the strings are the unnamed pandas index
    assert [e["dataset_from_index"] for e in ds.episodes] == [0, 10, 20]  # 2 episode files (resumed)
    assert ds.episode(2)["action"].shape == (10, 6)
    front = ds.frames("observation.images.front", 2)  # AV1
    assert front.shape == (10, 96, 128, 3)


def test_amibot_does_not_append_to_a_lerobot_recording(lerobot_root: Path) -> None:
    with pytest.raises(ValueError, match="not an amibot recording"):
        DatasetWriter(lerobot_root, resume=True)


def test_lerobot_dataset_info_and_replay(lerobot_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert dataset_cli.main(["info", str(lerobot_root)]) == 0
    out = capsys.readouterr().out
    assert f"task 1: {TASKS[1]}" in out and "success" not in out  # LeRobot records no outcome
    assert dataset_cli.main(["replay", str(lerobot_root)]) == 2
    err = capsys.readouterr().err
    assert "not recorded in the amibot sim" in err and "so101_follower" in err and "Traceback" not in err


def test_camera_choice(lerobot_root: Path) -> None:
    assert ClipDataset(lerobot_root, clip_len=4).key == "observation.images.front"  # the first video key
    assert ClipDataset(lerobot_root, clip_len=4, camera="wrist").key == "observation.images.wrist"
    with pytest.raises(ValueError, match=r"no camera 'head'; cameras: \['front', 'wrist'\]"):
        ClipDataset(lerobot_root, clip_len=4, camera="head")


def test_square_frames_crop_the_centre_and_keep_the_aspect_ratio() -> None:
    """96x128 frames: the middle 96x96 is kept, the 16-pixel side bands are cut, nothing is squashed."""
    x = torch.full((2, 3, 96, 128), 0.5)
    x[..., :16], x[..., 112:] = 1.0, 0.0  # side bands
    x[..., 40:56, 56:72] = 0.9  # a centred square stays a centred square
    y = square_frames(x, 48)
    assert y.shape == (2, 3, 48, 48)
    assert float(y[..., :, :4].min()) >= 0.5 - 1e-6 and float(y[..., :, -4:].max()) <= 0.5 + 1e-6
    mask = (y[0, 0] > 0.7).nonzero()
    h, w = mask[:, 0].max() - mask[:, 0].min(), mask[:, 1].max() - mask[:, 1].min()
    assert abs(int(h) - int(w)) <= 1 and abs(float(mask.float().mean(0)[1]) - 23.5) < 1


def test_train_encoder_on_a_lerobot_dataset(lerobot_root: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "encoder: {img_size: 32, frames: 4, dim: 32, depth: 1, heads: 2, pred_dim: 16, pred_depth: 1,"
        " pred_heads: 2}\ntrain: {batch_size: 4, warmup_steps: 1, probe_clips: 12}\n"
    )
    argv = ["--data", str(lerobot_root), "--config", str(cfg), "--steps", "1"]
    assert train_main([*argv, "--out", str(tmp_path / "front")]) == 0
    assert train_main([*argv, "--out", str(tmp_path / "wrist"), "--camera", "wrist"]) == 0
    with pytest.raises(SystemExit):
        train_main([*argv, "--out", str(tmp_path / "head"), "--camera", "head"])
    assert "cameras: ['front', 'wrist']" in capsys.readouterr().err


def _broken(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


def test_validate_catches_what_the_readers_cannot_read(lerobot_root: Path, tmp_path: Path) -> None:
    root = _broken(lerobot_root, tmp_path / "no_task")  # task strings in no column a reader can find
    pq.write_table(pa.table({"task_index": [0, 1], "name": list(TASKS)}), root / L.TASKS_PATH)
    with pytest.raises(DatasetError, match="no task_index and task string columns"):
        validate(root)

    root = _broken(lerobot_root, tmp_path / "no_video_rows")
    path = root / "meta/episodes/chunk-000/file-001.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["videos/observation.images.wrist/file_index"]), path)
    with pytest.raises(DatasetError, match=r"file-001.parquet: missing episode columns .*wrist/file_index"):
        validate(root)

    root = _broken(lerobot_root, tmp_path / "images")  # frames stored as images in parquet
    info = json.loads((root / L.INFO_PATH).read_text())
    info["features"]["observation.images.wrist"]["dtype"] = "image"
    (root / L.INFO_PATH).write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="observation.images.wrist stores frames as images"):
        validate(root)

    root = _broken(lerobot_root, tmp_path / "shape")
    info = json.loads((root / L.INFO_PATH).read_text())
    info["features"]["observation.images.front"]["shape"] = [128, 96, 3]
    (root / L.INFO_PATH).write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"frames are \[96, 128, 3\]"):
        validate(root)


def test_fixture_is_lerobots_layout(lerobot_root: Path) -> None:
    """The points the readers depend on, as LeRobot writes them."""
    tasks = pq.read_table(lerobot_root / L.TASKS_PATH)
    assert tasks.column_names == ["task_index", "__index_level_0__"]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["__index_level_0__"]
    info = json.loads((lerobot_root / L.INFO_PATH).read_text())
    assert [k for k in info["features"] if k.startswith("observation.images.")] == [
        f"observation.images.{c}" for c in CAMERAS
    ]
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "av1"


def test_validate_accepts_lerobots_sampled_image_stats(lerobot_root: Path, tmp_path: Path) -> None:
    """LeRobot computes image stats on sampled frames (compute_stats.sample_indices): count < frames."""
    root = _broken(lerobot_root, tmp_path / "sampled")
    for path in sorted(root.glob(L.EPISODES_GLOB)):
        table = pq.read_table(path)
        col = "stats/observation.images.front/count"
        table = table.set_column(table.column_names.index(col), col, pa.array([[5]] * table.num_rows))
        pq.write_table(table, path)
    stats = json.loads((root / L.STATS_PATH).read_text())
    stats["observation.images.front"]["count"] = [15]
    (root / L.STATS_PATH).write_text(json.dumps(stats))
    assert validate(root)["frames"] == 30
    stats["observation.state"]["count"] = [15]
    (root / L.STATS_PATH).write_text(json.dumps(stats))
    with pytest.raises(DatasetError, match="observation.state.count"):
        validate(root)


@pytest.mark.parametrize("flag", [[], ["--privileged-obs"]])
def test_record_keeps_privileged_state_out_of_observation_unless_asked(flag: list[str], tmp_path: Path) -> None:
    from sim import record_cli

    out = tmp_path / "demos"
    argv = ["--expert", "--task", "pick", "--episodes", "1", "--workers", "1", "--max-steps", "2", "--out", str(out)]
    assert record_cli.main([*argv, *flag]) == 0
    feats = Dataset(out).features
    assert L.env_state_key(feats) == (L.OBS_ENV_STATE if flag else L.ENV_STATE)
    assert (L.OBS_ENV_STATE in policy_inputs(feats)) == bool(flag) and L.CAPTURE_TIME in feats

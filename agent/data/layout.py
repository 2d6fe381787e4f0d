"""LeRobot v3.0 paths, feature declarations and crash-safe file commits for a dataset root."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
JOURNAL = ".commit.json"  # pending renames of one commit; rolled forward on open
STAGING = ".staging"  # per-episode video segments while an episode records
TMP_SUFFIX = ".tmp"
EPISODES_GLOB = "meta/episodes/chunk-*/file-*.parquet"  # LeRobot starts a new file on resume
CAMERAS = ("head", "wrist")
# Outside `observation.*` LeRobot policies never take a column as an input (dataset_to_policy_features):
CAPTURE_TIME = "capture_time"  # backend clock of each frame's capture: bookkeeping
ENV_STATE = "privileged.environment_state"  # privileged sim state (ground truth a real robot lacks)
OBS_ENV_STATE = "observation.environment_state"  # the same as a policy input (record --privileged-obs)
OLD_CAPTURE_TIME = "observation.capture_time"  # where datasets recorded before kept capture_time
INDEX_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def video_key(camera: str) -> str:
    return f"observation.images.{camera}"


def env_state_key(features: dict[str, Any]) -> str | None:
    """The column holding privileged environment state in a dataset (None: it has none)."""
    return next((k for k in (ENV_STATE, OBS_ENV_STATE) if k in features), None)


def capture_time_key(features: dict[str, Any]) -> str | None:
    """The column holding capture stamps (None: not an amibot recording)."""
    return next((k for k in (CAPTURE_TIME, OLD_CAPTURE_TIME) if k in features), None)


def data_file(chunk: int, file: int) -> str:
    return DATA_PATH.format(chunk_index=chunk, file_index=file)


def video_file(key: str, chunk: int, file: int) -> str:
    return VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)


def next_file(chunk: int, file: int) -> tuple[int, int]:
    """The (chunk, file) after this one; a chunk holds CHUNKS_SIZE files."""
    return (chunk + 1, 0) if file + 1 >= CHUNKS_SIZE else (chunk, file + 1)


def make_features(
    state_names: list[str],
    action_names: list[str],
    image_shape: tuple[int, int],
    fps: int,
    codec: str,
    cameras: tuple[str, ...] = CAMERAS,
    env_names: tuple[str, ...] = (),
    privileged_obs: bool = False,
) -> dict[str, dict[str, Any]]:
    """info.json `features`: proprio, action, a video per camera, capture stamps, indices, and
    (sim only, when env_names) privileged state: ENV_STATE, or with privileged_obs LeRobot's
    policy input observation.environment_state. `codec` is the codec's name, as LeRobot writes it."""
    h, w = image_shape
    feats: dict[str, dict[str, Any]] = {
        "observation.state": {
            "dtype": "float32",
            "shape": [len(state_names)],
            "names": list(state_names),
        },
        "action": {"dtype": "float32", "shape": [len(action_names)], "names": list(action_names)},
    }
    if env_names:
        env = {"dtype": "float32", "shape": [len(env_names)], "names": list(env_names)}
        feats[OBS_ENV_STATE if privileged_obs else ENV_STATE] = env
    for cam in cameras:
        feats[video_key(cam)] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": codec,
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    feats[CAPTURE_TIME] = {"dtype": "float64", "shape": [1], "names": None}
    feats["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for name in INDEX_FEATURES[1:]:
        feats[name] = {"dtype": "int64", "shape": [1], "names": None}
    return feats


def video_keys(features: dict[str, dict[str, Any]]) -> list[str]:
    return [k for k, f in features.items() if f["dtype"] == "video"]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def tmp_path(final: Path) -> Path:
    return final.with_name(final.name + TMP_SUFFIX)


def write_json_tmp(final: Path, data: Any) -> Path:
    """Write JSON next to `final` as a temporary file (made durable by commit); returns its path."""
    tmp = tmp_path(final)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(data, indent=2))
    return tmp


def commit(root: Path, renames: list[tuple[Path, Path]]) -> None:
    """Atomically publish temp files: fsync them, journal the renames, do them, drop the journal."""
    for tmp, _ in renames:
        fsync_file(tmp)
    journal = root / JOURNAL
    entries = [[str(t.relative_to(root)), str(f.relative_to(root))] for t, f in renames]
    journal_tmp = write_json_tmp(journal, entries)
    fsync_file(journal_tmp)
    os.replace(journal_tmp, journal)
    fsync_dir(root)
    _roll_forward(root, entries)
    journal.unlink()  # replaying a journal that reappears after a power cut is harmless


def _roll_forward(root: Path, entries: list[list[str]]) -> None:
    dirs = set()
    for tmp, final in entries:
        if (root / tmp).exists():
            os.replace(root / tmp, root / final)
            dirs.add((root / final).parent)
    for d in dirs:
        fsync_dir(d)


def recover(root: Path) -> list[str]:
    """Finish an interrupted commit, delete an unfinished episode's leftovers; say what was done."""
    done = []
    journal = root / JOURNAL
    if journal.exists():
        _roll_forward(root, json.loads(journal.read_text()))
        journal.unlink()
        done.append("completed an interrupted commit")
    for tmp in list(root.glob("**/*" + TMP_SUFFIX)):
        tmp.unlink()
        done.append(f"removed unfinished {tmp.relative_to(root)}")
    staging = root / STAGING
    if staging.exists():
        for f in sorted(staging.iterdir()):
            f.unlink()
        staging.rmdir()
        done.append("dropped the unfinished episode")
    return done

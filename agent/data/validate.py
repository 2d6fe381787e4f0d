"""Check a dataset on disk: layout, lengths, timestamps, index continuity, videos and stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agent.data import layout as L
from agent.data.stats import aggregate, from_columns
from agent.data.tables import read_tasks
from agent.data.video import count_frames, first_frame

REQUIRED_INFO = (
    "codebase_version", "robot_type", "fps", "total_episodes", "total_frames", "total_tasks",
    "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "data_path", "video_path",
    "features", "splits",
)  # fmt: skip
EPISODE_COLUMNS = (
    "episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index", "data/chunk_index",
    "data/file_index",
)  # fmt: skip
VIDEO_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")  # videos/<key>/...
TS_TOL = 1e-4  # s


class DatasetError(ValueError):
    """The first problem found in a dataset, naming the file and what is wrong."""


def validate(root: Path) -> dict[str, Any]:
    """Raise DatasetError on the first problem; return a short summary when all is well."""
    root = Path(root)
    if (root / L.JOURNAL).exists():
        raise DatasetError(f"{root}: an interrupted commit is pending ({L.JOURNAL}); open it to repair")
    info = _info(root)
    fps = info["fps"]
    if not (root / L.EPISODES_PATH).exists() and info["total_episodes"] == 0 == info["total_frames"]:
        return {"episodes": 0, "frames": 0, "tasks": 0, "fps": fps}  # new: no episode saved yet
    _table(root, L.TASKS_PATH)
    try:
        n_tasks = len(read_tasks(root))
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    episodes = _episodes(root, L.video_keys(info["features"]))
    n_ep = len(episodes)
    if n_ep != info["total_episodes"]:
        raise DatasetError(f"{L.EPISODES_GLOB}: {n_ep} episodes, info.json says {info['total_episodes']}")
    if n_tasks != info["total_tasks"]:
        raise DatasetError(f"{L.TASKS_PATH}: {n_tasks} tasks, info.json says {info['total_tasks']}")
    next_index = 0
    for i, ep in enumerate(episodes):
        if ep["episode_index"] != i:
            raise DatasetError(f"{L.EPISODES_GLOB}: row {i} has episode_index {ep['episode_index']}")
        if ep["dataset_from_index"] != next_index or ep["dataset_to_index"] - next_index != ep["length"]:
            raise DatasetError(f"episode {i}: index range [{ep['dataset_from_index']}, "
                               f"{ep['dataset_to_index']}) does not follow {next_index} with "
                               f"length "
                               f"{ep['length']}")  # fmt: skip
        next_index = ep["dataset_to_index"]
    if next_index != info["total_frames"]:
        raise DatasetError(f"episodes hold {next_index} frames, info.json says {info['total_frames']}")
    _check_data(root, info["features"], episodes, fps, n_tasks)
    for key in L.video_keys(info["features"]):
        _check_videos(root, key, info["features"][key]["shape"], episodes, fps)
    _check_stats(root, info, episodes)
    return {"episodes": n_ep, "frames": next_index, "tasks": n_tasks, "fps": fps}


def _info(root: Path) -> dict[str, Any]:
    path = root / L.INFO_PATH
    if not path.exists():
        raise DatasetError(f"{root}: missing {L.INFO_PATH} (not a dataset root?)")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{L.INFO_PATH}: not valid JSON ({exc})") from None
    missing = [k for k in REQUIRED_INFO if k not in info]
    if missing:
        raise DatasetError(f"{L.INFO_PATH}: missing keys {missing}")
    if info["codebase_version"] != L.CODEBASE_VERSION:
        raise DatasetError(f"{L.INFO_PATH}: codebase_version {info['codebase_version']!r}, "
                           f"expected {L.CODEBASE_VERSION!r}")  # fmt: skip
    for name, ft in info["features"].items():
        if ft.get("dtype") == "image":
            raise DatasetError(f"{L.INFO_PATH}: feature {name} stores frames as images in the parquet files; "
                               f"amibot reads cameras from video features (LeRobot: use_videos=True)")  # fmt: skip
    return info


def _episodes(root: Path, video_keys: list[str]) -> list[dict[str, Any]]:
    """Rows of every episodes file, each with the columns the readers use."""
    files = sorted(root.glob(L.EPISODES_GLOB))
    if not files:
        raise DatasetError(f"missing {L.EPISODES_PATH}")
    need = [*EPISODE_COLUMNS, *(f"videos/{k}/{c}" for k in video_keys for c in VIDEO_COLUMNS)]
    rows = []
    for f in files:
        rel = str(f.relative_to(root))
        table = _table(root, rel)
        missing = [c for c in need if c not in table.column_names]
        if missing:
            raise DatasetError(f"{rel}: missing episode columns {missing}")
        rows += table.to_pylist()
    return rows


def _table(root: Path, rel: str) -> pa.Table:
    path = root / rel
    if not path.exists():
        raise DatasetError(f"missing {rel}")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"{rel}: truncated or corrupt parquet file ({exc})") from None


def _check_data(root: Path, features: dict[str, Any], episodes: list[dict], fps: int, n_tasks: int) -> None:
    by_file: dict[tuple[int, int], list[dict]] = {}
    for ep in episodes:
        by_file.setdefault((ep["data/chunk_index"], ep["data/file_index"]), []).append(ep)
    for (chunk, file), eps in sorted(by_file.items()):
        rel = L.data_file(chunk, file)
        table = _table(root, rel)
        _check_columns(rel, table, features)
        ep_col = table["episode_index"].to_numpy()
        index = table["index"].to_numpy()
        frame_index = table["frame_index"].to_numpy()
        ts = table["timestamp"].to_numpy()
        task_index = table["task_index"].to_numpy()
        extra = set(np.unique(ep_col)) - {e["episode_index"] for e in eps}
        if extra:
            raise DatasetError(f"{rel}: rows of episode(s) {sorted(extra)[:5]} not in the episodes table")
        for ep in eps:
            i = ep["episode_index"]
            rows = np.flatnonzero(ep_col == i)
            if len(rows) != ep["length"]:
                raise DatasetError(f"{rel}: episode {i} has {len(rows)} rows, length says {ep['length']}")
            want = np.arange(ep["length"])
            if not np.array_equal(frame_index[rows], want):
                raise DatasetError(f"{rel}: episode {i}: frame_index is not 0..{ep['length'] - 1}")
            if not np.array_equal(index[rows], ep["dataset_from_index"] + want):
                raise DatasetError(f"{rel}: episode {i}: index is not continuous from "
                                   f"{ep['dataset_from_index']}")  # fmt: skip
            bad = np.flatnonzero(np.abs(ts[rows] - want / fps) > TS_TOL)
            if len(bad):
                raise DatasetError(f"{rel}: episode {i} frame {bad[0]}: timestamp "
                                   f"{ts[rows][bad[0]]} "
                                   f"!= {bad[0] / fps} at {fps} fps")  # fmt: skip
            if task_index[rows].min() < 0 or task_index[rows].max() >= n_tasks:
                raise DatasetError(f"{rel}: episode {i}: task_index outside 0..{n_tasks - 1}")


def _check_columns(rel: str, table: pa.Table, features: dict[str, Any]) -> None:
    """Every non-video feature is a column the reader turns into an array: numbers, or a fixed-size list."""
    for name, ft in features.items():
        if ft["dtype"] == "video":
            continue
        if name not in table.column_names:
            raise DatasetError(f"{rel}: no column {name} (a feature in {L.INFO_PATH})")
        t = table.schema.field(name).type
        inner = t.value_type if pa.types.is_fixed_size_list(t) else t
        if not (pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_boolean(inner)):
            raise DatasetError(f"{rel}: column {name} has type {t}; the reader takes numbers or fixed-size lists")


def _check_videos(root: Path, key: str, shape: list[int], episodes: list[dict], fps: int) -> None:
    files: dict[tuple[int, int], int] = {}
    for ep in episodes:
        i, where = (
            ep["episode_index"],
            (ep[f"videos/{key}/chunk_index"], ep[f"videos/{key}/file_index"]),
        )
        rel = L.video_file(key, *where)
        if not (root / rel).exists():
            raise DatasetError(f"missing video {rel} (episode {i}, {key})")
        t0, t1 = ep[f"videos/{key}/from_timestamp"], ep[f"videos/{key}/to_timestamp"]
        if abs((t1 - t0) * fps - ep["length"]) > 1e-3:
            raise DatasetError(f"{rel}: episode {i} spans {t1 - t0:.4f}s, length {ep['length']} at "
                               f"{fps} fps needs {ep['length'] / fps:.4f}s")  # fmt: skip
        files[where] = max(files.get(where, 0), round(t1 * fps))
    for where, need in files.items():
        rel = L.video_file(key, *where)
        try:
            have = count_frames(root / rel)
            frame = first_frame(root / rel)  # this PyAV build has a decoder for it
        except Exception as exc:  # PyAV raises several error types for damaged files or missing decoders
            raise DatasetError(f"{rel}: unreadable video ({type(exc).__name__}: {exc})") from None
        if have < need:
            raise DatasetError(f"{rel}: {have} frames, episodes need {need} (truncated video?)")
        if list(frame.shape) != list(shape):
            raise DatasetError(f"{rel}: frames are {list(frame.shape)}, {L.INFO_PATH} says {key} is {shape}")


def _check_stats(root: Path, info: dict[str, Any], episodes: list[dict]) -> None:
    path = root / L.STATS_PATH
    if not path.exists():
        raise DatasetError(f"missing {L.STATS_PATH}")
    stats = json.loads(path.read_text())
    features = list(info["features"])
    missing = [f for f in features if f not in stats]
    if missing:
        raise DatasetError(f"{L.STATS_PATH}: no stats for {missing}")
    per_ep = [from_columns(ep, features) for ep in episodes]
    for f in features:
        if any(f not in s for s in per_ep):
            raise DatasetError(f"{L.EPISODES_GLOB}: episode stats missing for {f}")
        want = aggregate([s[f] for s in per_ep])
        for k in want:  # quantiles too, where every episode has them
            if k not in stats[f]:
                raise DatasetError(f"{L.STATS_PATH}: {f}.{k} missing")
            have = np.asarray(stats[f][k], dtype=np.float64)
            if have.shape != want[k].shape or not np.allclose(have, want[k], rtol=1e-5, atol=1e-6):
                raise DatasetError(f"{L.STATS_PATH}: {f}.{k} does not match the episode stats")
        count, video = stats[f]["count"][0], info["features"][f]["dtype"] == "video"
        if count != info["total_frames"] and not (video and count <= info["total_frames"]):  # LeRobot samples frames
            raise DatasetError(f"{L.STATS_PATH}: {f}.count {count} != total_frames {info['total_frames']}")

"""Crash-safe LeRobot v3.0 dataset writer: an episode is either fully on disk or absent."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agent.data import layout as L
from agent.data.spec import DatasetSpec
from agent.data.stats import aggregate, array_stats, from_columns, histogram_quantiles, to_json
from agent.data.tables import (
    episodes_table,
    frame_table,
    read_episodes,
    read_tasks,
    tasks_table,
    write_parquet_tmp,
)
from agent.data.video import SegmentEncoder, can_append, codec_name, concat, pick_codec

log = logging.getLogger("amibot.data")
MB = 1024 * 1024

# Columns amibot adds to each episodes-table row (LeRobot ignores them).
EPISODE_EXTRAS: dict[str, Any] = {
    "sim_task": "",  # sim task name, for replay
    "task_args": "{}",  # JSON of the arguments given to the sim reset ({}: sampled from the seed)
    "seed": -1,  # sim reset seed (-1: not from the sim)
    "layout_seed": -1,  # sim apartment seed when it differs from seed (-1: seed picks it)
    "success": False,
    "dropped_frames": 0,  # frames the pipeline could not deliver at the rate (not duplicated)
}


class _ImageStats:
    """Running per-channel min/max/sum/sum of squares/value histogram of one camera (all pixels of
    every frame), scaled to [0, 1] at the end; the histogram gives exact quantiles."""

    def __init__(self) -> None:
        self.n, self.px = 0, 0
        self.lo, self.hi = np.full(3, 255), np.zeros(3, np.int64)
        self.s, self.ss = np.zeros(3, np.int64), np.zeros(3, np.int64)
        self.hist = np.zeros((3, 256), np.int64)

    def add(self, rgb: np.ndarray) -> None:
        x = rgb.reshape(-1, 3)
        self.n += 1
        self.px += len(x)
        self.lo, self.hi = np.minimum(self.lo, x.min(0)), np.maximum(self.hi, x.max(0))
        self.s += x.sum(0, dtype=np.int64)
        wide = x.astype(np.int32)
        self.ss += np.einsum("ij,ij->j", wide, wide, dtype=np.int64)
        for c in range(3):
            self.hist[c] += np.bincount(x[:, c], minlength=256)

    def result(self) -> dict[str, np.ndarray]:
        mean = self.s / self.px / 255.0
        std = np.sqrt(np.maximum(self.ss / self.px / 255.0**2 - mean**2, 0.0))
        out = {k: (v / 255.0).reshape(3, 1, 1) for k, v in (("min", self.lo), ("max", self.hi))}
        out.update(mean=mean.reshape(3, 1, 1), std=std.reshape(3, 1, 1))
        out["count"] = np.array([self.n])
        out.update(histogram_quantiles(self.hist, 1 / 255.0))
        return out


class DatasetWriter:
    """Appends episodes to a dataset root; `resume=True` continues an existing one."""

    def __init__(
        self,
        root: Path,
        spec: DatasetSpec | None = None,
        *,
        resume: bool = False,
        data_files_size_in_mb: int = 100,
        video_files_size_in_mb: int = 100,
        codec: str | None = None,
    ) -> None:
        self.root = Path(root)
        info_path = self.root / L.INFO_PATH
        if info_path.exists():
            if not resume:
                raise FileExistsError(f"{self.root} already holds a dataset; resume to append")
            for line in L.recover(self.root):
                log.warning("%s: %s", self.root, line)
            self.info = json.loads(info_path.read_text())
            if L.capture_time_key(self.info["features"]) is None:
                raise ValueError(f"{self.root}: not an amibot recording (no capture_time column); "
                                 f"amibot appends only to datasets it wrote")  # fmt: skip
            self.spec = _spec_from_info(self.info)
            if spec is not None and spec != self.spec:
                raise ValueError(f"{self.root}: dataset was recorded as {self.spec}, not {spec}")
            self.tasks = read_tasks(self.root) if (self.root / L.TASKS_PATH).exists() else []
            self.episodes = read_episodes(self.root)
        else:
            if spec is None:
                raise ValueError(f"{self.root}: no dataset there; a DatasetSpec is needed to start one")
            self.spec = spec
            codec = codec_name(codec or pick_codec())
            self.info = _new_info(spec, codec, data_files_size_in_mb, video_files_size_in_mb)
            self.tasks, self.episodes = [], []
            self.root.mkdir(parents=True, exist_ok=True)
            L.recover(self.root)
            L.commit(self.root, [(L.write_json_tmp(info_path, self.info), info_path)])
        self.features = self.info["features"]
        self.video_keys = L.video_keys(self.features)
        self.ep_stats = [from_columns(r, list(self.features)) for r in self.episodes]
        self._open = False

    # ----- episode ------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._open

    @property
    def frames(self) -> int:
        """Frames in the open episode so far."""
        return len(self._state) if self._open else 0

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    def start_episode(self, task: str) -> None:
        """Begin buffering an episode for `task` (a natural-language instruction)."""
        if self._open:
            raise RuntimeError("start_episode() while an episode is open; save or discard it")
        staging = self.root / L.STAGING
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        h, w = self.spec.image_shape
        codec = self.features[self.video_keys[0]]["info"]["video.codec"]  # h264 encodes with libx264
        self._task = task
        self._enc = {k: SegmentEncoder(staging / f"{k}.mp4", self.spec.fps, h, w, codec) for k in self.video_keys}
        self._img_stats = {k: _ImageStats() for k in self.video_keys}
        self._state: list[np.ndarray] = []
        self._action: list[np.ndarray] = []
        self._env: list[np.ndarray] = []
        self._capture: list[float] = []
        self._dropped = 0
        self._open = True

    def add_frame(
        self,
        state: np.ndarray,
        action: np.ndarray,
        images: dict[str, np.ndarray],
        capture_time: float,
        env_state: np.ndarray | None = None,
    ) -> None:
        """One frame: proprio, the action taken from it, one image per camera, its capture stamp
        and, when the dataset declares it, the privileged environment state."""
        if not self._open:
            raise RuntimeError("add_frame() outside an episode; call start_episode() first")
        checks = [("state", state, len(self.spec.state_names)), ("action", action, len(self.spec.action_names))]
        if self.spec.env_names or env_state is not None:
            checks.append(("environment_state", env_state, len(self.spec.env_names)))
        for name, vec, size in checks:
            if np.shape(vec) != (size,) or not np.all(np.isfinite(vec)):
                raise ValueError(f"frame {name} must be {size} finite values, got {np.shape(vec)}")
        shape = (*self.spec.image_shape, 3)
        for cam in self.spec.cameras:
            img = images[cam]
            if img.shape != shape or img.dtype != np.uint8:
                raise ValueError(f"camera {cam}: expected uint8 {shape}, got {img.dtype} {img.shape}")
            key = L.video_key(cam)
            self._enc[key].write(img)
            self._img_stats[key].add(img)
        self._state.append(np.asarray(state, np.float32))
        self._action.append(np.asarray(action, np.float32))
        if self.spec.env_names:
            self._env.append(np.asarray(env_state, np.float32))
        self._capture.append(float(capture_time))

    def note_dropped(self, frames: int) -> None:
        """Count frames that never arrived at the rate (a gap in capture stamps)."""
        self._dropped += int(frames)

    def discard_episode(self) -> None:
        """Drop the open episode (re-record)."""
        if not self._open:
            return
        for enc in self._enc.values():
            enc.container.close()
        shutil.rmtree(self.root / L.STAGING, ignore_errors=True)
        self._open = False

    def close(self) -> None:
        """Discard any unsaved episode; everything saved is already durable."""
        self.discard_episode()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- saving -------------------------------------------------------------------------
    def save_episode(self, **extras: Any) -> int:
        """Make the open episode durable and visible; returns its episode_index."""
        if not self._open:
            raise RuntimeError("save_episode() without an open episode")
        unknown = set(extras) - set(EPISODE_EXTRAS)
        if unknown:
            raise ValueError(f"unknown episode fields {sorted(unknown)}; known: {list(EPISODE_EXTRAS)}")
        n = len(self._state)
        if n == 0:
            self.discard_episode()
            raise ValueError("save_episode() on an episode with no frames")
        for enc in self._enc.values():
            enc.close()
        ep = len(self.episodes)
        start = int(self.info["total_frames"])
        if self._task not in self.tasks:
            self.tasks.append(self._task)
        cols = self._columns(ep, start, n, self.tasks.index(self._task))
        row: dict[str, Any] = {
            "episode_index": ep,
            "tasks": [self._task],
            "length": n,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
        }
        renames = self._write_data(frame_table(cols, self.features), row)
        for key in self.video_keys:
            renames += self._write_video(key, n, row)
        stats = {name: array_stats(cols[name]) for name, ft in self.features.items() if ft["dtype"] != "video"}
        stats.update({k: s.result() for k, s in self._img_stats.items()})
        for feat, st in stats.items():
            for k, v in st.items():
                row[f"stats/{feat}/{k}"] = np.asarray(v).tolist()
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
        row.update(EPISODE_EXTRAS)
        row.update(extras, dropped_frames=self._dropped + int(extras.get("dropped_frames", 0)))
        renames += self._write_meta(row, stats, n)
        L.commit(self.root, renames)
        shutil.rmtree(self.root / L.STAGING, ignore_errors=True)
        self.episodes.append(row)
        self.ep_stats.append(stats)
        self._open = False
        if row["dropped_frames"]:
            log.warning("episode %d: %d frame(s) dropped (not duplicated)", ep, row["dropped_frames"])
        return ep

    def _columns(self, ep: int, start: int, n: int, task_index: int) -> dict[str, np.ndarray]:
        frame_index = np.arange(n)
        cols = {
            "observation.state": np.stack(self._state),
            "action": np.stack(self._action),
            L.capture_time_key(self.features): np.array(self._capture),  # older datasets: observation.*
            "timestamp": (frame_index / self.spec.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(n, ep),
            "index": start + frame_index,
            "task_index": np.full(n, task_index),
        }
        if self.spec.env_names:
            cols[L.env_state_key(self.features)] = np.stack(self._env)
        return cols

    def _write_data(self, table: pa.Table, row: dict[str, Any]) -> list[tuple[Path, Path]]:
        chunk, file = (0, 0)
        if self.episodes:
            last = self.episodes[-1]
            chunk, file = last["data/chunk_index"], last["data/file_index"]
            path = self.root / L.data_file(chunk, file)
            if path.stat().st_size < self.info["data_files_size_in_mb"] * MB:
                table = pa.concat_tables([pq.read_table(path), table])
            else:
                chunk, file = L.next_file(chunk, file)
        row["data/chunk_index"], row["data/file_index"] = chunk, file
        final = self.root / L.data_file(chunk, file)
        return [(write_parquet_tmp(table, final), final)]

    def _write_video(self, key: str, n: int, row: dict[str, Any]) -> list[tuple[Path, Path]]:
        segment = self.root / L.STAGING / f"{key}.mp4"
        fps = self.spec.fps
        chunk, file, frames_before = 0, 0, 0
        if self.episodes:
            last = self.episodes[-1]
            chunk, file = last[f"videos/{key}/chunk_index"], last[f"videos/{key}/file_index"]
            existing = self.root / L.video_file(key, chunk, file)
            frames_before = round(last[f"videos/{key}/to_timestamp"] * fps)
            small = existing.stat().st_size < self.info["video_files_size_in_mb"] * MB
            if not (small and can_append(existing, segment)):
                chunk, file, frames_before = (*L.next_file(chunk, file), 0)
        final = self.root / L.video_file(key, chunk, file)
        tmp = L.tmp_path(final)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if frames_before:
            concat([(final, frames_before), (segment, n)], tmp, fps)
        else:
            os.replace(segment, tmp)
        row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"] = chunk, file
        row[f"videos/{key}/from_timestamp"] = frames_before / fps
        row[f"videos/{key}/to_timestamp"] = (frames_before + n) / fps
        return [(tmp, final)]

    def _write_meta(self, row: dict[str, Any], stats: dict, n: int) -> list[tuple[Path, Path]]:
        rows = self.episodes + [row]
        info = dict(self.info)
        info.update(
            total_episodes=len(rows),
            total_frames=int(info["total_frames"]) + n,
            total_tasks=len(self.tasks),
            splits={"train": f"0:{len(rows)}"},
            dropped_frames=int(info.get("dropped_frames", 0)) + row["dropped_frames"],
        )
        all_stats = self.ep_stats + [stats]
        agg = {f: aggregate([s[f] for s in all_stats]) for f in stats}
        r = self.root
        out = [
            (write_parquet_tmp(episodes_table(rows), r / L.EPISODES_PATH), r / L.EPISODES_PATH),
            (write_parquet_tmp(tasks_table(self.tasks), r / L.TASKS_PATH), r / L.TASKS_PATH),
            (L.write_json_tmp(r / L.STATS_PATH, to_json(agg)), r / L.STATS_PATH),
            (L.write_json_tmp(r / L.INFO_PATH, info), r / L.INFO_PATH),  # last: the commit point
        ]
        self.info = info
        return out


def _new_info(spec: DatasetSpec, codec: str, data_mb: int, video_mb: int) -> dict[str, Any]:
    return {
        "codebase_version": L.CODEBASE_VERSION,
        "robot_type": spec.robot_type,
        "fps": spec.fps,
        "total_episodes": 0,
        "total_frames": 0,
        "total_tasks": 0,
        "chunks_size": L.CHUNKS_SIZE,
        "data_files_size_in_mb": data_mb,
        "video_files_size_in_mb": video_mb,
        "data_path": L.DATA_PATH,
        "video_path": L.VIDEO_PATH,
        "features": L.make_features(
            spec.state_names,
            spec.action_names,
            spec.image_shape,
            spec.fps,
            codec,
            spec.cameras,
            spec.env_names,
            spec.privileged_obs,
        ),
        "splits": {"train": "0:0"},
        "dropped_frames": 0,
    }


def _spec_from_info(info: dict[str, Any]) -> DatasetSpec:
    feats = info["features"]
    keys = L.video_keys(feats)
    env = L.env_state_key(feats)
    h, w = feats[keys[0]]["shape"][:2]
    return DatasetSpec(
        fps=int(info["fps"]),
        robot_type=info["robot_type"],
        state_names=list(feats["observation.state"]["names"]),
        action_names=list(feats["action"]["names"]),
        image_shape=(h, w),
        cameras=tuple(k.removeprefix("observation.images.") for k in keys),
        env_names=tuple(feats[env]["names"]) if env else (),
        privileged_obs=env == L.OBS_ENV_STATE,
    )

"""Read a dataset: metadata, frame columns, decoded camera frames (cached once as .npy memmaps)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agent.data import layout as L
from agent.data.tables import read_episodes, read_tasks
from agent.data.video import decode

CACHE_DIR = ".cache/frames"


class Dataset:
    """A dataset root opened for reading; an interrupted commit is completed first."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if (self.root / L.JOURNAL).exists():
            L.recover(self.root)
        self.info: dict[str, Any] = json.loads((self.root / L.INFO_PATH).read_text())
        self.fps = int(self.info["fps"])
        self.features = self.info["features"]
        self.video_keys = L.video_keys(self.features)
        self.tasks = read_tasks(self.root) if self.info["total_tasks"] else []
        self.episodes = read_episodes(self.root)
        self._cols: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.episodes)

    def camera_key(self, camera: str | None = None) -> str:
        """The video key of `camera` ("front" or "observation.images.front"); None: the first camera."""
        if not self.video_keys:
            raise ValueError(f"{self.root}: the dataset has no video feature")
        if camera is None:
            return self.video_keys[0]
        key = camera if camera in self.video_keys else L.video_key(camera)
        if key not in self.video_keys:
            names = [k.removeprefix("observation.images.") for k in self.video_keys]
            raise ValueError(f"{self.root}: no camera {camera!r}; cameras: {names}")
        return key

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """All frame rows, ordered by global index: name -> [N, ...] arrays."""
        if self._cols is None:
            files = sorted({(e["data/chunk_index"], e["data/file_index"]) for e in self.episodes})
            table = pa.concat_tables([pq.read_table(self.root / L.data_file(*f)) for f in files])
            table = table.sort_by("index")
            self._cols = {name: _to_numpy(table[name]) for name in table.column_names}
        return self._cols

    def episode(self, ep: int) -> dict[str, Any]:
        """Columns of one episode plus its metadata row under 'meta'."""
        row = self.episodes[ep]
        lo, hi = row["dataset_from_index"], row["dataset_to_index"]
        out: dict[str, Any] = {k: v[lo:hi] for k, v in self.columns.items()}
        out["meta"] = row
        return out

    def frames(self, key: str, ep: int) -> np.ndarray:
        """Decoded frames of one episode and camera key: uint8 [T, H, W, 3] (a memmap view)."""
        row = self.episodes[ep]
        start = round(row[f"videos/{key}/from_timestamp"] * self.fps)
        return self.video_frames(key, row)[start : start + row["length"]]

    def video_frames(self, key: str, row: dict[str, Any]) -> np.ndarray:
        """All frames of the video file holding episode `row`, decoded once into a cached memmap."""
        rel = L.video_file(key, row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"])
        src = self.root / rel
        cache = self.root / CACHE_DIR / (rel + ".npy")
        stamp = cache.with_suffix(".json")
        st = src.stat()
        want = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if not (cache.exists() and stamp.exists() and json.loads(stamp.read_text()) == want):
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = L.tmp_path(cache)
            with open(tmp, "wb") as f:
                np.save(f, decode(src))
            os.replace(tmp, cache)
            stamp.write_text(json.dumps(want))
        return np.load(cache, mmap_mode="r")


def _to_numpy(col: pa.ChunkedArray) -> np.ndarray:
    arr = col.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type):
        return arr.values.to_numpy(zero_copy_only=False).reshape(len(arr), arr.type.list_size)
    return arr.to_numpy(zero_copy_only=False)

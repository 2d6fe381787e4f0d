"""Parquet tables of a dataset: frame data, the task index and the episodes table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agent.data.layout import EPISODES_GLOB, TASKS_PATH, tmp_path

# pandas reads the task strings back as the index (LeRobot: meta.tasks.index, task -> task_index)
_PANDAS_META = {
    "index_columns": ["task"],
    "column_indexes": [],
    "columns": [
        {
            "name": "task_index",
            "field_name": "task_index",
            "pandas_type": "int64",
            "numpy_type": "int64",
            "metadata": None,
        },
        {
            "name": "task",
            "field_name": "task",
            "pandas_type": "unicode",
            "numpy_type": "object",
            "metadata": None,
        },
    ],
    "creator": {"library": "pyarrow", "version": pa.__version__},
    "pandas_version": "2.2.0",
}


def frame_table(cols: dict[str, np.ndarray], features: dict[str, dict[str, Any]]) -> pa.Table:
    """One episode's rows: vector features as fixed-size lists, [1]-shaped ones as scalars."""
    arrays, names = [], []
    for name, ft in features.items():
        if ft["dtype"] == "video":
            continue
        values = np.asarray(cols[name], dtype=ft["dtype"])
        if ft["shape"] == [1]:
            arrays.append(pa.array(values.reshape(-1)))
        else:
            flat = pa.array(values.reshape(-1))
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, ft["shape"][0]))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def write_parquet_tmp(table: pa.Table, final: Path) -> Path:
    """Write a table next to `final` as a temp file (commit makes it durable); returns its path."""
    tmp = tmp_path(final)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp)
    return tmp


def tasks_table(tasks: list[str]) -> pa.Table:
    table = pa.table(
        {
            "task_index": pa.array(range(len(tasks)), pa.int64()),
            "task": pa.array(tasks, pa.string()),
        }
    )
    return table.replace_schema_metadata({b"pandas": json.dumps(_PANDAS_META).encode()})


def read_tasks(root: Path) -> list[str]:
    """Task strings in task_index order, from amibot's `task` column or (LeRobot's writer) the
    pandas index column the metadata names (`__index_level_0__` for LeRobot's unnamed index)."""
    table = pq.read_table(root / TASKS_PATH)
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]  # a RangeIndex is a dict
    column = next((c for c in ["task", *index] if c in table.column_names), None)
    if column is None or "task_index" not in table.column_names:
        raise ValueError(f"{TASKS_PATH}: no task_index and task string columns (columns {table.column_names}, "
                         f"pandas index {index or 'none'})")  # fmt: skip
    rows = sorted(zip(table["task_index"].to_pylist(), table[column].to_pylist(), strict=True))
    return [task for _, task in rows]


def read_episodes(root: Path) -> list[dict[str, Any]]:
    """Episode rows of every episodes file, in file order (LeRobot writes a new file on resume)."""
    files = sorted(root.glob(EPISODES_GLOB))
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default").to_pylist() if files else []


def episodes_table(rows: list[dict[str, Any]]) -> pa.Table:
    """One row per episode; a column some rows lack (stats added by a later amibot) is null there."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows])

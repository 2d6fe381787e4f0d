"""Read a saved view recording back with rerun's own reader: when each entity has data."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rerun.chunk import RrdReader


def entity_times(path: str | Path) -> dict[str, dict[str, list[float]]]:
    """entity path -> timeline -> sorted times [s] of its rows; static data sits on timeline 'static'."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for chunk in RrdReader(path).stream().to_chunks():
        if chunk.is_static:
            out[chunk.entity_path]["static"].append(0.0)
            continue
        batch = chunk.to_record_batch()
        for name in chunk.timeline_names:
            if name.startswith("episode_"):
                out[chunk.entity_path][name] += [t.total_seconds() for t in batch.column(name).to_pylist()]
    return {e: {t: sorted(v) for t, v in tl.items()} for e, tl in out.items()}

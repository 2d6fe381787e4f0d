"""Static collision geometry for the safety checks: boxes from a sim layout or a hardware map file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.runtime.config import ConfigError, from_dict, read_yaml
from agent.safety.config import CollisionConfig, WorkspaceConfig, Zone


@dataclass
class StaticBox:
    """An axis-aligned static box in the world frame [m]."""

    name: str
    kind: str
    lower: list[float]
    upper: list[float]


@dataclass
class StaticMap:
    """A hardware static map file: the boxes the robot must keep clear of."""

    boxes: list[StaticBox]


def load_boxes(cfg: CollisionConfig) -> list[StaticBox]:
    """The static boxes named by the config: the sim scene layout for (scene, seed) plus the map file."""
    boxes: list[StaticBox] = []
    if cfg.scene:
        from sim.layout import (
            generate_layout,
            load_scene_config,
        )  # sim only; hardware uses map_file

        layout = generate_layout(load_scene_config(cfg.scene), cfg.seed)
        for b in layout.boxes:
            c, h = np.asarray(b.center), np.asarray(b.half)
            boxes.append(StaticBox(b.name, b.kind, (c - h).tolist(), (c + h).tolist()))
    if cfg.map_file:
        path = Path(cfg.map_file).expanduser()
        boxes += from_dict(StaticMap, read_yaml(path), source=str(path)).boxes
    for b in boxes:
        if len(b.lower) != 3 or len(b.upper) != 3 or any(lo >= hi for lo, hi in zip(b.lower, b.upper, strict=True)):
            raise ConfigError(f"static box '{b.name}': lower/upper need 3 values with lower < upper")
    return boxes


def keepout_zones(ws: WorkspaceConfig, boxes: list[StaticBox]) -> list[Zone]:
    """Configured zones plus scene boxes of the keep-out kinds, inflated by the margin."""
    m = ws.keepout_margin
    derived = [
        Zone(b.name, [v - m for v in b.lower], [v + m for v in b.upper]) for b in boxes if b.kind in ws.keepout_kinds
    ]
    return list(ws.keepout) + derived


def footprints(boxes: list[StaticBox]) -> tuple[np.ndarray, np.ndarray]:
    """2-D (x, y) lower and upper corners of every box, [N, 2] each."""
    if not boxes:
        return np.zeros((0, 2)), np.zeros((0, 2))
    lo = np.array([b.lower[:2] for b in boxes], dtype=float)
    hi = np.array([b.upper[:2] for b in boxes], dtype=float)
    return lo, hi


def clearance(pose: np.ndarray, lo: np.ndarray, hi: np.ndarray, radius: float) -> tuple[float, np.ndarray]:
    """Distance from a round base's edge to the nearest box footprint, and the unit direction
    towards it in the robot frame (zeros when inside a box or no box exists)."""
    if len(lo) == 0:
        return float("inf"), np.zeros(2)
    xy = np.asarray(pose[:2], dtype=float)
    nearest = np.minimum(np.maximum(xy, lo), hi)  # [N, 2] closest point of each footprint
    delta = nearest - xy
    dist = np.hypot(delta[:, 0], delta[:, 1])
    i = int(np.argmin(dist))
    if dist[i] <= 1e-9:
        return -radius, np.zeros(2)
    c, s = np.cos(pose[2]), np.sin(pose[2])
    dx, dy = delta[i] / dist[i]
    return float(dist[i] - radius), np.array([c * dx + s * dy, -s * dx + c * dy])

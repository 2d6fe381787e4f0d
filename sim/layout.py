"""Procedural apartment layout as plain data (no pybullet): rooms, walls, furniture, objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.resources import config_dir
from agent.runtime.config import load_config

SCENE_DIR = config_dir("scenes")
ACCESS_INSET = (0.06, 0.09)  # object centre distance from a receptacle's access edge, m
OBJECT_SPACING = 0.16  # min distance between objects on one receptacle, m
FURNITURE_GAP = 0.75  # free corridor between furniture pieces, m
DOOR_CLEARANCE = 1.0  # furniture keeps this far from interior walls, m


@dataclass(frozen=True)
class RoomSpec:
    name: str
    width: list[float]


@dataclass(frozen=True)
class FurnitureSpec:
    name: str
    room: str
    anchor: str  # north | south | east | west (outer wall) | center
    length: list[float]
    depth: list[float]
    height: list[float]
    receptacle: bool


@dataclass(frozen=True)
class ObjectType:
    name: str
    shape: str  # box (size = half extents) | cylinder, mug (radius, height) | urdf (scale)
    size: list[float]
    mass: float
    urdf: str = ""


@dataclass(frozen=True)
class ObjectsSpec:
    count: list[int]
    catalog: list[ObjectType]


@dataclass(frozen=True)
class SeedRange:
    start: int
    count: int


@dataclass(frozen=True)
class SceneConfig:
    """configs/scenes/<name>.yaml."""

    name: str
    depth: list[float]
    wall_height: float
    wall_thickness: float
    door_width: list[float]
    rooms: list[RoomSpec]
    furniture: list[FurnitureSpec]
    objects: ObjectsSpec
    eval_seeds: SeedRange

    def split(self, seed: int) -> str:
        """'eval' for held-out layout seeds, else 'train'."""
        lo = self.eval_seeds.start
        return "eval" if lo <= seed < lo + self.eval_seeds.count else "train"


@dataclass
class Box:
    """Static axis-aligned box; receptacles have a top surface and an access direction."""

    name: str
    kind: str
    room: str
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    color: tuple[float, float, float, float]
    receptacle: bool = False
    access: tuple[float, float] = (0.0, 0.0)  # outward unit normal of the side a robot reaches from

    @property
    def top(self) -> float:
        return self.center[2] + self.half[2]

    def edge_point(self, t: float, inset: float) -> tuple[float, float]:
        """Point on the top, `inset` in from the access edge, `t` along it (from its centre)."""
        ax, ay = self.access
        cx, cy = self.center[0], self.center[1]
        half_depth = abs(ax) * self.half[0] + abs(ay) * self.half[1]
        ex, ey = cx + ax * (half_depth - inset), cy + ay * (half_depth - inset)
        return ex - ay * t, ey + ax * t

    @property
    def edge_length(self) -> float:
        return 2 * (abs(self.access[1]) * self.half[0] + abs(self.access[0]) * self.half[1])


@dataclass
class ObjectPlacement:
    """A graspable object resting on a receptacle."""

    name: str
    kind: ObjectType
    receptacle: str
    xy: tuple[float, float]
    yaw: float
    color: tuple[float, float, float, float]


@dataclass
class Layout:
    """Everything a scene builder needs, fully determined by (config, seed)."""

    seed: int
    split: str
    width: float
    depth: float
    rooms: dict[str, tuple[float, float, float, float]]  # name -> (x0, y0, x1, y1)
    boxes: list[Box] = field(default_factory=list)
    objects: list[ObjectPlacement] = field(default_factory=list)
    light: dict[str, object] = field(default_factory=dict)

    def box(self, name: str) -> Box:
        for b in self.boxes:
            if b.name == name:
                return b
        raise KeyError(f"no box named '{name}'; have {[b.name for b in self.boxes]}")

    @property
    def receptacles(self) -> list[Box]:
        return [b for b in self.boxes if b.receptacle]


def load_scene_config(name_or_path: str | Path = "apartment") -> SceneConfig:
    """Load configs/scenes/<name>.yaml (or a path)."""
    path = Path(name_or_path)
    if path.suffix != ".yaml":
        path = SCENE_DIR / f"{name_or_path}.yaml"
    return load_config(SceneConfig, path)


def _u(rng: np.random.Generator, lohi: list[float]) -> float:
    return float(rng.uniform(lohi[0], lohi[1]))


def _color(rng: np.random.Generator, lo: float = 0.15, hi: float = 0.95) -> tuple:
    r, g, b = rng.uniform(lo, hi, 3)
    return (float(r), float(g), float(b), 1.0)


def generate_layout(cfg: SceneConfig, seed: int) -> Layout:
    """Sample a layout: room sizes, door positions, furniture, objects, colours and lighting."""
    rng = np.random.default_rng([seed, 7])
    depth = _u(rng, cfg.depth)
    rooms: dict[str, tuple[float, float, float, float]] = {}
    x = 0.0
    for room in cfg.rooms:
        w = _u(rng, room.width)
        rooms[room.name] = (x, 0.0, x + w, depth)
        x += w
    layout = Layout(seed=seed, split=cfg.split(seed), width=x, depth=depth, rooms=rooms)
    _add_walls(cfg, layout, rng)
    for spec in cfg.furniture:
        _add_furniture(spec, layout, rng)
    _add_objects(cfg, layout, rng)
    d = rng.normal(size=3) * [1.0, 1.0, 0.3] + [0.0, 0.0, 2.0]
    layout.light = {
        "direction": [float(v) for v in d / np.linalg.norm(d)],
        "color": [float(v) for v in rng.uniform(0.85, 1.0, 3)],
        "ambient": float(rng.uniform(0.5, 0.7)),
        "diffuse": float(rng.uniform(0.4, 0.6)),
        "floor": _color(rng, 0.45, 0.8),
        "wall": _color(rng, 0.7, 0.95),
    }
    return layout


def _add_walls(cfg: SceneConfig, layout: Layout, rng: np.random.Generator) -> None:
    t, h, w, d = cfg.wall_thickness, cfg.wall_height, layout.width, layout.depth
    color = (0.9, 0.9, 0.88, 1.0)

    def wall(name: str, x0: float, y0: float, x1: float, y1: float) -> None:
        c = ((x0 + x1) / 2, (y0 + y1) / 2, h / 2)
        layout.boxes.append(Box(name, "wall", "", c, ((x1 - x0) / 2, (y1 - y0) / 2, h / 2), color))

    wall("wall_south", -t, -t, w + t, 0.0)
    wall("wall_north", -t, d, w + t, d + t)
    wall("wall_west", -t, 0.0, 0.0, d)
    wall("wall_east", w, 0.0, w + t, d)
    names = list(layout.rooms)
    for i, name in enumerate(names[1:], start=1):
        xw = layout.rooms[name][0]
        door = _u(rng, cfg.door_width)
        yc = float(rng.uniform(0.8 + door / 2, d - 0.8 - door / 2))
        wall(f"wall_{names[i - 1]}_{name}_a", xw - t / 2, 0.0, xw + t / 2, yc - door / 2)
        wall(f"wall_{names[i - 1]}_{name}_b", xw - t / 2, yc + door / 2, xw + t / 2, d)


def _overlaps(a: Box, b: Box, gap: float) -> bool:
    return all(abs(a.center[i] - b.center[i]) < a.half[i] + b.half[i] + gap for i in range(2))


def _add_furniture(spec: FurnitureSpec, layout: Layout, rng: np.random.Generator) -> None:
    """Place one piece by rejection sampling; skip it if no collision-free spot is found."""
    x0, y0, x1, y1 = layout.rooms[spec.room]
    length, depth, height = _u(rng, spec.length), _u(rng, spec.depth), _u(rng, spec.height)
    length = min(length, x1 - x0 - 2 * DOOR_CLEARANCE - 0.1)  # narrow rooms get shorter pieces
    color = _color(rng, 0.2, 0.8)
    furniture = [b for b in layout.boxes if b.kind != "wall"]
    for _ in range(50):
        if spec.anchor in ("north", "south"):
            hx, hy = length / 2, depth / 2
            cx = float(rng.uniform(x0 + DOOR_CLEARANCE + hx, x1 - DOOR_CLEARANCE - hx))
            cy = y1 - hy if spec.anchor == "north" else y0 + hy
            access = (0.0, -1.0) if spec.anchor == "north" else (0.0, 1.0)
        elif spec.anchor in ("east", "west"):
            hx, hy = depth / 2, length / 2
            cx = x1 - hx if spec.anchor == "east" else x0 + hx
            cy = float(rng.uniform(y0 + hy, y1 - hy))
            access = (-1.0, 0.0) if spec.anchor == "east" else (1.0, 0.0)
        else:
            hx, hy = length / 2, depth / 2
            cx = float(rng.uniform(x0 + DOOR_CLEARANCE + hx, x1 - DOOR_CLEARANCE - hx))
            cy = float(rng.uniform(y0 + 1.0 + hy, y1 - 1.0 - hy))
            access = (0.0, 1.0) if rng.random() < 0.5 else (0.0, -1.0)
        box = Box(
            spec.name,
            spec.name,
            spec.room,
            (cx, cy, height / 2),
            (hx, hy, height / 2),
            color,
            spec.receptacle,
            access,
        )
        if not any(_overlaps(box, other, FURNITURE_GAP) for other in furniture):
            layout.boxes.append(box)
            return


def _add_objects(cfg: SceneConfig, layout: Layout, rng: np.random.Generator) -> None:
    count = int(rng.integers(cfg.objects.count[0], cfg.objects.count[1] + 1))
    kinds = rng.choice(len(cfg.objects.catalog), size=min(count, len(cfg.objects.catalog)), replace=False)
    for k in kinds:
        kind = cfg.objects.catalog[int(k)]
        receptacles = layout.receptacles
        for _ in range(50):
            rec = receptacles[int(rng.integers(len(receptacles)))]
            xy = free_spot(layout, rec, rng)
            if xy is not None:
                break
        else:
            continue
        layout.objects.append(
            ObjectPlacement(kind.name, kind, rec.name, xy, float(rng.uniform(-np.pi, np.pi)), _color(rng))
        )


def free_spot(
    layout: Layout, rec: Box, rng: np.random.Generator, spacing: float = OBJECT_SPACING
) -> tuple[float, float] | None:
    """A reachable spot near `rec`'s access edge at least `spacing` from other objects."""
    half_len = rec.edge_length / 2 - 0.12
    for _ in range(20):
        t = float(rng.uniform(-half_len, half_len))
        xy = rec.edge_point(t, float(rng.uniform(*ACCESS_INSET)))
        if all(np.hypot(xy[0] - o.xy[0], xy[1] - o.xy[1]) >= spacing for o in layout.objects):
            return xy
    return None

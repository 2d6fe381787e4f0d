"""Household tasks (navigate, pick, place, fetch): sampling, privileged success checks, metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.resources import config_dir
from agent.runtime.config import load_config
from sim.layout import Layout, free_spot
from sim.nav import OccupancyGrid, approach_pose

if TYPE_CHECKING:
    from sim.world import SimWorld

TASK_DIR = config_dir("tasks")
TASKS = ("navigate", "pick", "place", "fetch")
REST_SPEED = 0.05  # m/s: an object slower than this counts as resting


@dataclass(frozen=True)
class TaskConfig:
    """configs/tasks/<name>.yaml."""

    name: str
    max_steps: int
    success_radius: float = 0.5
    lift_height: float = 0.05
    place_radius: float = 0.15


@dataclass
class TaskStatus:
    """What the world reports about the running episode."""

    task: str
    success: bool
    done: bool
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TaskSpec:
    """A sampled task instance: its arguments and the robot's start pose."""

    name: str
    args: dict[str, str]
    start: np.ndarray  # (x, y, yaw)
    goal_xy: np.ndarray | None = None  # navigate goal / place target point
    held_at_start: str | None = None


def load_task_config(name: str) -> TaskConfig:
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}'; expected one of {list(TASKS)}")
    return load_config(TaskConfig, TASK_DIR / f"{name}.yaml")


def place_goal(layout: Layout, grid: OccupancyGrid, place: str) -> np.ndarray:
    """Goal point of a navigate place: a room (its most central free cell) or a receptacle."""
    if place in layout.rooms:
        x0, y0, x1, y1 = layout.rooms[place]
        return grid.nearest_free(np.array([(x0 + x1) / 2, (y0 + y1) / 2]))
    rec = layout.box(place)
    return approach_pose(rec, rec.center[:2])[:2]


def places(layout: Layout) -> list[str]:
    return list(layout.rooms) + [b.name for b in layout.receptacles]


def room_of(layout: Layout, xy: np.ndarray) -> str:
    for name, (x0, y0, x1, y1) in layout.rooms.items():
        if x0 <= xy[0] < x1 and y0 <= xy[1] < y1:
            return name
    return ""


def _random_start(layout: Layout, grid: OccupancyGrid, rng: np.random.Generator, rooms: list[str]) -> np.ndarray:
    """A free base pose in one of `rooms` with random heading."""
    free = np.argwhere(~grid.occ)
    pts = grid.point(free.T).T
    ok = np.array([room_of(layout, xy) in rooms for xy in pts])
    xy = pts[ok][int(rng.integers(ok.sum()))]
    return np.array([xy[0], xy[1], rng.uniform(-np.pi, np.pi)])


def sample_task(name: str, layout: Layout, grid: OccupancyGrid, seed: int, **kwargs: str) -> TaskSpec:
    """Sample task arguments (unless given) and a start pose, deterministically per seed."""
    rng = np.random.default_rng([seed, 11])
    objs = [o.name for o in layout.objects]
    recs = [b.name for b in layout.receptacles]
    allowed = {
        "navigate": {"to"},
        "pick": {"object"},
        "place": {"object", "on"},
        "fetch": {"object", "to"},
    }[name]
    if set(kwargs) - allowed:
        raise ValueError(f"task '{name}' got unknown args {sorted(set(kwargs) - allowed)}; expected {sorted(allowed)}")
    if name == "navigate":
        to = kwargs.get("to") or str(rng.choice(places(layout)))
        goal = place_goal(layout, grid, to)
        others = [r for r in layout.rooms if r != room_of(layout, goal)]
        return TaskSpec(name, {"to": to}, _random_start(layout, grid, rng, others), goal)
    obj = kwargs.get("object") or str(rng.choice(objs))
    if obj not in objs:
        raise ValueError(f"no object '{obj}' in this scene; expected one of {objs}")
    source = next(o.receptacle for o in layout.objects if o.name == obj)
    if name == "pick":
        return TaskSpec(name, {"object": obj}, _random_start(layout, grid, rng, list(layout.rooms)))
    key = "on" if name == "place" else "to"
    target = kwargs.get(key) or str(rng.choice([r for r in recs if r != source]))
    if target not in recs:
        raise ValueError(f"no receptacle '{target}' in this scene; expected one of {recs}")
    rec = layout.box(target)
    others = [o for o in layout.objects if o.name != obj]
    spot = free_spot(Layout(layout.seed, layout.split, 0, 0, {}, objects=others), rec, rng)
    goal = np.array(spot if spot is not None else rec.edge_point(0.0, 0.08))
    if name == "place":
        start = _random_start(layout, grid, rng, [rec.room])
        return TaskSpec(name, {"object": obj, "on": target}, start, goal, held_at_start=obj)
    start = _random_start(layout, grid, rng, list(layout.rooms))
    return TaskSpec(name, {"object": obj, "to": target}, start, goal)


class TaskTracker:
    """Steps, path length and the success check of one episode, on privileged state."""

    def __init__(self, spec: TaskSpec, cfg: TaskConfig, world: SimWorld) -> None:
        self.spec, self.cfg, self.world = spec, cfg, world
        self.steps = 0
        self.path_length = 0.0
        self.last_xy = (float(spec.start[0]), float(spec.start[1]))
        self.shortest = world.grid.path_length(spec.start, spec.goal_xy) if spec.name == "navigate" else float("nan")

    def update(self) -> None:
        """Called once per control step."""
        self.steps += 1
        x, y, _ = self.world.robot_state.pose().tolist()
        self.path_length += math.hypot(x - self.last_xy[0], y - self.last_xy[1])
        self.last_xy = (x, y)

    def status(self) -> TaskStatus:
        name = self.spec.name
        ok, metrics = {
            "navigate": self._navigate,
            "pick": self._pick,
            "place": self._place,
            "fetch": self._place,
        }[name]()
        metrics["path_length"] = self.path_length
        done = ok or self.steps >= self.cfg.max_steps
        return TaskStatus(name, bool(ok), bool(done), self.steps, metrics)

    def _navigate(self) -> tuple[bool, dict[str, float]]:
        x, y, _ = self.world.robot_state.pose().tolist()
        d = math.hypot(x - float(self.spec.goal_xy[0]), y - float(self.spec.goal_xy[1]))
        ok = d <= self.cfg.success_radius
        spl = ok * self.shortest / max(self.shortest, self.path_length, 1e-9)
        return ok, {"distance_to_goal": d, "shortest_path": self.shortest, "spl": float(spl)}

    def _pick(self) -> tuple[bool, dict[str, float]]:
        obj = self.spec.args["object"]
        body = self.world.scene.objects[obj]
        z = p.getBasePositionAndOrientation(body, physicsClientId=self.world.client)[0][2]
        lift = z - self.world.scene.rest_z[obj]
        held = self.world.is_held(obj)
        return lift >= self.cfg.lift_height and held, {"lift": float(lift), "held": float(held)}

    def _place(self) -> tuple[bool, dict[str, float]]:
        obj, rec = self.spec.args["object"], self.spec.args.get("on") or self.spec.args["to"]
        w = self.world
        body = w.scene.objects[obj]
        pos = np.array(p.getBasePositionAndOrientation(body, physicsClientId=w.client)[0])
        vel = np.linalg.norm(p.getBaseVelocity(body, physicsClientId=w.client)[0])
        d = float(np.linalg.norm(pos[:2] - self.spec.goal_xy))
        on = bool(p.getContactPoints(body, w.scene.boxes[rec], physicsClientId=w.client))
        free = not p.getContactPoints(body, w.robot_state.body, physicsClientId=w.client)
        ok = on and free and d <= self.cfg.place_radius and vel < REST_SPEED
        return ok, {"distance_to_target": d, "on_receptacle": float(on), "released": float(free)}

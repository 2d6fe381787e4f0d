"""Build a Layout into a pybullet client: floor, walls, furniture and graspable objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.urdf import resolve_asset
from sim.layout import Box, Layout, ObjectPlacement

OBJECT_FRICTION = 1.2


@dataclass
class SceneHandles:
    """pybullet body ids of what was built, by name."""

    floor: int
    boxes: dict[str, int] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    rest_z: dict[str, float] = field(default_factory=dict)  # object base z when resting


def build_scene(layout: Layout, client: int) -> SceneHandles:
    """Create static geometry and dynamic objects for `layout`; returns their ids."""
    floor_rgba = layout.light.get("floor", (0.6, 0.55, 0.5, 1.0))
    half = (layout.width / 2 + 1.0, layout.depth / 2 + 1.0, 0.05)
    floor = _static_box((layout.width / 2, layout.depth / 2, -0.05), half, floor_rgba, client)
    handles = SceneHandles(floor=floor)
    wall_rgba = layout.light.get("wall", (0.9, 0.9, 0.88, 1.0))
    for box in layout.boxes:
        rgba = wall_rgba if box.kind == "wall" else box.color
        handles.boxes[box.name] = _static_box(box.center, box.half, rgba, client)
    for obj in layout.objects:
        rec = layout.box(obj.receptacle)
        body = _object_body(obj, client)
        z = _settle_height(body, rec, obj, client)
        handles.objects[obj.name] = body
        handles.rest_z[obj.name] = z
    return handles


def _static_box(center: tuple, half: tuple, rgba: tuple, client: int) -> int:
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
    vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=client)
    return p.createMultiBody(0.0, col, vis, basePosition=center, physicsClientId=client)


def _object_body(obj: ObjectPlacement, client: int) -> int:
    """Primitive or URDF body for one object, created above the origin."""
    kind, rgba = obj.kind, obj.color
    if kind.shape == "urdf":
        body = p.loadURDF(str(resolve_asset(kind.urdf)), globalScaling=kind.size[0], physicsClientId=client)
        p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=client)
        p.changeDynamics(body, -1, mass=kind.mass, physicsClientId=client)
    else:
        col, vis = _shapes(kind.shape, kind.size, rgba, client)
        body = p.createMultiBody(kind.mass, col, vis, physicsClientId=client)
    p.changeDynamics(
        body,
        -1,
        lateralFriction=OBJECT_FRICTION,
        spinningFriction=0.002,
        rollingFriction=0.0005,
        physicsClientId=client,
    )
    return body


def _shapes(shape: str, size: list[float], rgba: tuple, client: int) -> tuple[int, int]:
    if shape == "box":
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=size, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=size, rgbaColor=rgba, physicsClientId=client)
        return col, vis
    r, h = size[0], size[1]
    if shape == "cylinder":
        col = p.createCollisionShape(p.GEOM_CYLINDER, radius=r, height=h, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_CYLINDER, radius=r, length=h, rgbaColor=rgba, physicsClientId=client)
        return col, vis
    if shape == "mug":  # cylinder body + box handle on +x
        handle = [0.012, 0.006, h * 0.3]
        kw = dict(
            shapeTypes=[p.GEOM_CYLINDER, p.GEOM_BOX],
            radii=[r, 0.0],
            halfExtents=[[0, 0, 0], handle],
            collisionFramePositions=[[0, 0, 0], [r + handle[0], 0, 0]],
        )
        col = p.createCollisionShapeArray(lengths=[h, 0.0], physicsClientId=client, **kw)
        vis = p.createVisualShapeArray(
            lengths=[h, 0.0],
            rgbaColors=[rgba, rgba],
            physicsClientId=client,
            shapeTypes=kw["shapeTypes"],
            radii=kw["radii"],
            halfExtents=kw["halfExtents"],
            visualFramePositions=kw["collisionFramePositions"],
        )
        return col, vis
    raise ValueError(f"unknown object shape '{shape}'; expected box, cylinder, mug or urdf")


def _settle_height(body: int, rec: Box, obj: ObjectPlacement, client: int) -> float:
    """Put `body` at its spot with its lowest point just on the receptacle top; returns base z."""
    orn = p.getQuaternionFromEuler([0, 0, obj.yaw])
    p.resetBasePositionAndOrientation(body, [obj.xy[0], obj.xy[1], 5.0], orn, physicsClientId=client)
    lo, _ = p.getAABB(body, -1, physicsClientId=client)
    z = 5.0 - lo[2] + rec.top + 0.001
    p.resetBasePositionAndOrientation(body, [obj.xy[0], obj.xy[1], z], orn, physicsClientId=client)
    return float(z)


def object_top(body: int, client: int) -> float:
    """Highest z of a body's axis-aligned bounding box."""
    return float(p.getAABB(body, -1, physicsClientId=client)[1][2])


def object_extent(body: int, client: int) -> np.ndarray:
    """AABB size (dx, dy, dz) of a body."""
    lo, hi = p.getAABB(body, -1, physicsClientId=client)
    return np.subtract(hi, lo)

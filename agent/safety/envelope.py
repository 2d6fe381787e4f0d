"""Geometric rules on the commanded next configuration: tool workspace, keep-out zones, collisions."""

from __future__ import annotations

import math

import numpy as np

from agent.safety.config import SafetyConfig, Zone
from agent.safety.constraints import Intervention
from agent.safety.geometry import RobotGeometry


def next_pose(pose: np.ndarray, vel: np.ndarray, dt: float) -> np.ndarray:
    """Base pose after driving the robot-frame velocity (vx, vy, wz) for dt."""
    x, y, yaw = pose.tolist()
    vx, vy, wz = vel.tolist()
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([x + dt * (c * vx - s * vy), y + dt * (s * vx + c * vy), yaw + dt * wz])


def outside_box(point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """How far a point is outside a box [m]; 0 inside."""
    triples = zip(point.tolist(), lower.tolist(), upper.tolist(), strict=True)
    gaps = [max(lo - p, 0.0) + max(p - hi, 0.0) for p, lo, hi in triples]
    return math.sqrt(sum(g * g for g in gaps))


def depth_in_boxes(point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """How deep a point is inside each box [m], [N]; 0 outside (lower, upper: [N, 3])."""
    depth = np.min(np.minimum(point - lower, upper - point), axis=1)
    return np.maximum(depth, 0.0)


def in_base_frame(point: np.ndarray, pose: np.ndarray) -> np.ndarray:
    x, y, yaw = pose.tolist()
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = float(point[0]) - x, float(point[1]) - y
    return np.array([c * dx + s * dy, -s * dx + c * dy, float(point[2])])


class EnvelopeRules:
    """Checks a candidate next configuration; a violation that does not improve on now is a stop.

    The scene is static, so the answer for a repeated (now, next) pair is the last one.
    """

    def __init__(self, geom: RobotGeometry, cfg: SafetyConfig, zones: list[Zone]) -> None:
        self.geom, self.cfg = geom, cfg
        self.ws_lo, self.ws_hi = np.asarray(cfg.workspace.lower), np.asarray(cfg.workspace.upper)
        self.zone_names = [z.name for z in zones]
        self.zone_lo = np.array([z.lower for z in zones], dtype=float).reshape(-1, 3)
        self.zone_hi = np.array([z.upper for z in zones], dtype=float).reshape(-1, 3)
        self._last: tuple[bytes, list[Intervention]] | None = None

    def _measure(self, pose: np.ndarray, arm: np.ndarray, gripper: float) -> dict[str, tuple[float, str]]:
        """Violation size per rule (0 = fine) with a detail, for one configuration."""
        g, col = self.geom, self.cfg.collision
        g.set(pose, arm, gripper)
        tcp = g.tcp()
        out = {
            "ee_workspace": (
                outside_box(in_base_frame(tcp, pose), self.ws_lo, self.ws_hi),
                "tool outside box",
            )
        }
        depths = depth_in_boxes(tcp, self.zone_lo, self.zone_hi)
        i = int(np.argmax(depths)) if len(depths) else -1
        depth, name = (float(depths[i]), self.zone_names[i]) if i >= 0 else (0.0, "")
        out["ee_keepout"] = (depth, f"tool in zone '{name}'")
        d, which = g.scene_distance(col.min_distance)
        out["scene_collision"] = (max(col.min_distance - d, 0.0), f"{which}: {d:.3f} m")
        d, which = g.self_distance(col.self_min_distance)
        out["self_collision"] = (max(col.self_min_distance - d, 0.0), f"{which}: {d:.3f} m")
        return out

    def __call__(
        self,
        pose: np.ndarray,
        arm: np.ndarray,
        pose_next: np.ndarray,
        arm_next: np.ndarray,
        gripper: float,
    ) -> list[Intervention]:
        """Stops for every rule the next configuration violates, unless it gets less bad than now."""
        key = np.concatenate([pose, arm, pose_next, arm_next, [gripper]]).tobytes()
        if self._last is None or self._last[0] != key:
            self._last = (key, self._check(pose, arm, pose_next, arm_next, gripper))
        return list(self._last[1])

    def _check(
        self, pose: np.ndarray, arm: np.ndarray, pose_next: np.ndarray, arm_next: np.ndarray, gripper: float
    ) -> list[Intervention]:
        nxt = self._measure(pose_next, arm_next, gripper)
        bad = {k: v for k, v in nxt.items() if v[0] > 0}
        if not bad:
            return []
        now = self._measure(pose, arm, gripper)
        rules = {"ee_workspace": "workspace", "ee_keepout": "keepout"}
        return [
            Intervention(rules.get(k, "collision"), "stop", k, f"{detail} (next), {now[k][0]:.3f} now")
            for k, (size, detail) in bad.items()
            if size >= now[k][0] - 1e-6
        ]

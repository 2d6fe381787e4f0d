"""Forward kinematics and minimum distances of a robot configuration (a PyBullet DIRECT client)."""

from __future__ import annotations

import itertools

import numpy as np
import pybullet as p

from agent.safety.scene import StaticBox
from sim.robot_config import RobotConfig
from sim.urdf_compose import robot_urdf

BASE_JOINTS = ("base_x", "base_y", "base_yaw")


class RobotGeometry:
    """The robot model and the static boxes in a private physics client; never stepped, only posed."""

    def __init__(self, robot: RobotConfig, boxes: list[StaticBox], self_margin: float) -> None:
        self.cfg = robot
        self.client = p.connect(p.DIRECT)
        c = self.client
        self.body = p.loadURDF(
            str(robot_urdf(robot)),
            useFixedBase=True,
            flags=p.URDF_USE_SELF_COLLISION,
            physicsClientId=c,
        )
        joints = {}
        parent = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=c)):
            info = p.getJointInfo(self.body, j, physicsClientId=c)
            joints[info[1].decode()] = j
            parent[j] = info[16]
            if info[12].decode() == robot.arm.ee_link:
                self.ee = j
        self.base_ids = [joints[n] for n in BASE_JOINTS]
        self.arm_ids = [joints[jt.name] for jt in robot.arm.joints]
        self.finger_ids = [joints[n] for n in robot.gripper.joints]
        self.links = [j for j in parent if p.getCollisionShapeData(self.body, j, physicsClientId=c)]
        self.box_ids: list[int] = []
        self.box_lo = np.array([b.lower for b in boxes], dtype=float).reshape(-1, 3)
        self.box_hi = np.array([b.upper for b in boxes], dtype=float).reshape(-1, 3)
        for lo, hi in zip(self.box_lo, self.box_hi, strict=True):
            shape = p.createCollisionShape(
                p.GEOM_BOX, halfExtents=((hi - lo) / 2).tolist(), physicsClientId=c
            )
            self.box_ids.append(
                p.createMultiBody(
                    0.0, shape, basePosition=((hi + lo) / 2).tolist(), physicsClientId=c
                )
            )
        self._posed: tuple[float, ...] = ()
        self._self_cache: tuple[tuple[tuple[float, ...], float], tuple[float, str]] | None = None
        self.self_pairs = self._self_pairs(parent, self_margin)

    def _self_pairs(self, parent: dict[int, int], margin: float) -> list[tuple[int, int]]:
        """Link pairs to check: not parent/child or siblings, and not within the margin at rest poses."""
        pairs = [
            (a, b)
            for a, b in itertools.combinations(self.links, 2)
            if parent[a] != b and parent[b] != a and parent[a] != parent[b]
        ]
        for q in (np.array(self.cfg.arm.stow), np.zeros(self.cfg.n_arm)):
            for grip in (0.0, 1.0):
                self.set(np.zeros(3), q, grip)
                pairs = [pr for pr in pairs if self._pair_distance(*pr, margin) >= margin]
        return pairs

    def set(self, pose: np.ndarray, arm: np.ndarray, gripper: float) -> None:
        """Pose the model: base (x, y, yaw), arm joint positions, gripper opening 0..1."""
        c, g = self.client, self.cfg.gripper
        for j, q in zip(self.base_ids, pose, strict=True):
            p.resetJointState(self.body, j, float(q), physicsClientId=c)
        for j, q in zip(self.arm_ids, arm, strict=True):
            p.resetJointState(self.body, j, float(q), physicsClientId=c)
        for j, lo, hi in zip(self.finger_ids, g.closed, g.open, strict=True):
            p.resetJointState(self.body, j, lo + (hi - lo) * float(gripper), physicsClientId=c)
        self._posed = (*(float(q) for q in arm), float(gripper))

    def tcp(self) -> np.ndarray:
        """World position of the tool centre point of the posed model."""
        st = p.getLinkState(
            self.body, self.ee, computeForwardKinematics=True, physicsClientId=self.client
        )
        pos, _ = p.multiplyTransforms(st[4], st[5], self.cfg.arm.tcp_offset, [0, 0, 0, 1])
        return np.asarray(pos)

    def _pair_distance(self, a: int, b: int, cutoff: float) -> float:
        pts = p.getClosestPoints(
            self.body, self.body, cutoff, linkIndexA=a, linkIndexB=b, physicsClientId=self.client
        )
        return min((pt[8] for pt in pts), default=float("inf"))

    def _aabbs(self) -> dict[int, tuple[tuple[float, ...], tuple[float, ...]]]:
        """World bounding box of every collision link of the posed model."""
        return {j: p.getAABB(self.body, j, physicsClientId=self.client) for j in self.links}

    def self_distance(self, cutoff: float) -> tuple[float, str]:
        """Smallest distance between checked link pairs (inf beyond cutoff) and which pair.

        Depends on the arm and gripper only, so the last answer is reused while they are unchanged;
        bounding boxes filter first, exact distances only where boxes come within cutoff.
        """
        if self._self_cache is not None and self._self_cache[0] == (self._posed, cutoff):
            return self._self_cache[1]
        boxes = self._aabbs()
        best, which = float("inf"), ""
        for a, b in self.self_pairs:
            (alo, ahi), (blo, bhi) = boxes[a], boxes[b]
            if any(alo[i] > bhi[i] + cutoff or blo[i] > ahi[i] + cutoff for i in range(3)):
                continue
            d = self._pair_distance(a, b, cutoff)
            if d < best:
                best, which = d, f"links {a}-{b}"
        self._self_cache = ((self._posed, cutoff), (best, which))
        return best, which

    def scene_distance(self, cutoff: float) -> tuple[float, str]:
        """Smallest robot-to-static-box distance (inf beyond cutoff); exact only where link and box bounds meet."""
        if not self.box_ids:
            return float("inf"), ""
        best, which = float("inf"), ""
        for link, (lo, hi) in self._aabbs().items():
            lo, hi = np.asarray(lo) - cutoff, np.asarray(hi) + cutoff
            near = np.all((self.box_lo <= hi) & (self.box_hi >= lo), axis=1)
            for i in np.flatnonzero(near):
                pts = p.getClosestPoints(
                    self.body, self.box_ids[i], cutoff, linkIndexA=link, physicsClientId=self.client
                )
                for pt in pts:
                    if pt[8] < best:
                        best, which = pt[8], f"link {link} to box {i}"
        return best, which

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)

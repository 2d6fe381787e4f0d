"""Forward kinematics and minimum distances of a robot configuration (a PyBullet DIRECT client)."""

from __future__ import annotations

import itertools

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.config import RobotConfig
from agent.robot.urdf import robot_urdf
from agent.safety.scene import StaticBox

BASE_JOINTS = ("base_x", "base_y", "base_yaw")


class RobotGeometry:
    """The robot model and the static boxes in a private physics client; never stepped, only posed.

    Bounding boxes filter first (all link pairs and link-box pairs in one numpy test), exact
    distances only where boxes come within the cutoff; a repeated pose costs no PyBullet call.
    """

    def __init__(self, robot: RobotConfig, boxes: list[StaticBox], self_margin: float) -> None:
        self.cfg = robot
        self.client = p.connect(p.DIRECT)
        c = self.client
        self.body = p.loadURDF(
            str(robot_urdf(robot)), useFixedBase=True, flags=p.URDF_USE_SELF_COLLISION, physicsClientId=c
        )
        joints = {}
        parent = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=c)):
            info = p.getJointInfo(self.body, j, physicsClientId=c)
            joints[info[1].decode()] = j
            parent[j] = info[16]
            if info[12].decode() == robot.arm.ee_link:
                self.ee = j
        base_ids = [joints[n] for n in BASE_JOINTS]
        arm_ids = [joints[jt.name] for jt in robot.arm.joints]
        finger_ids = [joints[n] for n in robot.gripper.joints]
        self.joint_ids = base_ids + arm_ids + finger_ids  # the order of set()'s values
        self.links = [j for j in parent if p.getCollisionShapeData(self.body, j, physicsClientId=c)]
        self.box_ids: list[int] = []
        self.box_lo = self.box_hi = np.zeros((0, 3))
        self.set_boxes(boxes)
        self._posed: tuple[float, ...] = ()  # base pose, arm, gripper of the posed model
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None  # link AABBs of the posed model
        self._self_cache: tuple[tuple[tuple[float, ...], float], tuple[float, str]] | None = None
        self.self_pairs = self._self_pairs(parent, self_margin)
        index = {link: i for i, link in enumerate(self.links)}
        self._pair_a = np.array([index[a] for a, _ in self.self_pairs], dtype=int)
        self._pair_b = np.array([index[b] for _, b in self.self_pairs], dtype=int)

    def set_boxes(self, boxes: list[StaticBox]) -> None:
        """Replace the static scene boxes (a backend reset to another scene)."""
        c = self.client
        for body in self.box_ids:
            p.removeBody(body, physicsClientId=c)
        self.box_ids = []
        self.box_lo = np.array([b.lower for b in boxes], dtype=float).reshape(-1, 3)
        self.box_hi = np.array([b.upper for b in boxes], dtype=float).reshape(-1, 3)
        for lo, hi in zip(self.box_lo, self.box_hi, strict=True):
            shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=((hi - lo) / 2).tolist(), physicsClientId=c)
            self.box_ids.append(p.createMultiBody(0.0, shape, basePosition=((hi + lo) / 2).tolist(), physicsClientId=c))

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
        posed = (*(float(q) for q in pose), *(float(q) for q in arm), float(gripper))
        if posed == self._posed:
            return
        g = self.cfg.gripper
        fingers = [lo + (hi - lo) * float(gripper) for lo, hi in zip(g.closed, g.open, strict=True)]
        values = [[q] for q in (*posed[:-1], *fingers)]
        p.resetJointStatesMultiDof(self.body, self.joint_ids, values, physicsClientId=self.client)
        self._posed, self._bounds = posed, None

    def tcp(self) -> np.ndarray:
        """World position of the tool centre point of the posed model."""
        st = p.getLinkState(self.body, self.ee, computeForwardKinematics=True, physicsClientId=self.client)
        pos, _ = p.multiplyTransforms(st[4], st[5], self.cfg.arm.tcp_offset, [0, 0, 0, 1])
        return np.asarray(pos)

    def _pair_distance(self, a: int, b: int, cutoff: float) -> float:
        pts = p.getClosestPoints(self.body, self.body, cutoff, linkIndexA=a, linkIndexB=b, physicsClientId=self.client)
        return min((pt[8] for pt in pts), default=float("inf"))

    def _link_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """World bounding boxes (lower, upper) [links, 3] of every collision link of the posed model."""
        if self._bounds is None:
            boxes = np.array([p.getAABB(self.body, j, physicsClientId=self.client) for j in self.links])
            self._bounds = boxes[:, 0], boxes[:, 1]
        return self._bounds

    def self_distance(self, cutoff: float) -> tuple[float, str]:
        """Smallest distance between checked link pairs (inf beyond cutoff) and which pair.

        Depends on the arm and gripper only, so the last answer is reused while they are unchanged.
        """
        key = (self._posed[3:], cutoff)
        if self._self_cache is not None and self._self_cache[0] == key:
            return self._self_cache[1]
        lo, hi = self._link_bounds()
        a, b = self._pair_a, self._pair_b
        near = np.all((lo[a] <= hi[b] + cutoff) & (lo[b] <= hi[a] + cutoff), axis=1)
        best, which = float("inf"), ""
        for k in np.flatnonzero(near):
            pair = self.self_pairs[k]
            d = self._pair_distance(*pair, cutoff)
            if d < best:
                best, which = d, f"links {pair[0]}-{pair[1]}"
        self._self_cache = (key, (best, which))
        return best, which

    def scene_distance(self, cutoff: float) -> tuple[float, str]:
        """Smallest robot-to-static-box distance (inf beyond cutoff); exact only where link and box bounds meet."""
        if not self.box_ids:
            return float("inf"), ""
        lo, hi = self._link_bounds()
        near = np.all(  # [links, boxes]
            (self.box_lo[None] <= hi[:, None] + cutoff) & (self.box_hi[None] >= lo[:, None] - cutoff), axis=2
        )
        best, which = float("inf"), ""
        for li, bi in zip(*np.nonzero(near), strict=True):
            link = self.links[li]
            pts = p.getClosestPoints(self.body, self.box_ids[bi], cutoff, linkIndexA=link, physicsClientId=self.client)
            for pt in pts:
                if pt[8] < best:
                    best, which = pt[8], f"link {link} to box {bi}"
        return best, which

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)

"""Arm IK: p.calculateInverseKinematics on an arm-only copy in its own pybullet client."""

from __future__ import annotations

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.config import RobotConfig
from agent.robot.urdf import arm_urdf


class ArmIK:
    """Solves arm joint targets for a tool-centre pose given in the arm root frame."""

    def __init__(self, cfg: RobotConfig) -> None:
        self.cfg = cfg
        self.client = p.connect(p.DIRECT)
        self.body = p.loadURDF(str(arm_urdf(cfg)), useFixedBase=True, physicsClientId=self.client)
        names, links, self.movable = {}, {}, []
        for j in range(p.getNumJoints(self.body, physicsClientId=self.client)):
            info = p.getJointInfo(self.body, j, physicsClientId=self.client)
            names[info[1].decode()] = j
            links[info[12].decode()] = j
            if info[2] != p.JOINT_FIXED:
                self.movable.append(j)
        self.arm_ids = [names[j.name] for j in cfg.arm.joints]
        self.ee = links[cfg.arm.ee_link]
        self.lower = np.array(cfg.arm_lower)
        self.upper = np.array(cfg.arm_upper)
        # pose of the root link's URDF frame in this client (loadURDF places the inertial frame)
        com_pos, com_orn = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        info = p.getDynamicsInfo(self.body, -1, physicsClientId=self.client)
        inv = p.invertTransform(info[3], info[4])
        self.root = p.multiplyTransforms(com_pos, com_orn, *inv)

    def solve(
        self, tcp_pos: np.ndarray, tcp_orn: np.ndarray, seed: np.ndarray, iterations: int = 4
    ) -> tuple[np.ndarray, float]:
        """Joint targets for (tcp_pos, tcp_orn) in the arm root frame, and the position error."""
        pos, orn = p.multiplyTransforms(*self.root, tcp_pos, tcp_orn)
        off = -np.asarray(self.cfg.arm.tcp_offset)
        ee_pos, _ = p.multiplyTransforms(pos, orn, off.tolist(), [0, 0, 0, 1])
        idx = [self.movable.index(j) for j in self.arm_ids]
        n = len(self.movable)
        lower, upper = np.full(n, -np.pi), np.full(n, np.pi)
        lower[idx], upper[idx] = self.lower, self.upper
        rest = np.zeros(n)
        rest[idx] = seed
        q = np.asarray(seed, dtype=float)
        for _ in range(iterations):
            for j, v in zip(self.arm_ids, q, strict=True):
                p.resetJointState(self.body, j, float(v), physicsClientId=self.client)
            sol = p.calculateInverseKinematics(
                self.body,
                self.ee,
                ee_pos,
                orn,
                lowerLimits=lower.tolist(),
                upperLimits=upper.tolist(),
                jointRanges=(upper - lower).tolist(),
                restPoses=rest.tolist(),
                maxNumIterations=100,
                residualThreshold=1e-5,
                physicsClientId=self.client,
            )
            q = np.clip(np.array(sol)[idx], self.lower, self.upper)
        for j, v in zip(self.arm_ids, q, strict=True):
            p.resetJointState(self.body, j, float(v), physicsClientId=self.client)
        st = p.getLinkState(self.body, self.ee, computeForwardKinematics=True, physicsClientId=self.client)
        return q, float(np.linalg.norm(np.array(st[4]) - np.array(ee_pos)))

    def close(self) -> None:
        p.disconnect(self.client)

"""The simulated mobile manipulator: joint bookkeeping, base/arm/gripper actuation, grasp assist."""

from __future__ import annotations

import math

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.config import RobotConfig
from agent.robot.urdf import robot_urdf

BASE_JOINTS = ("base_x", "base_y", "base_yaw")
FINGER_FRICTION = 2.0
GRASP_CONSTRAINT_FORCE = 200.0


def _wrap(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


class Robot:
    """One robot body in a pybullet client; the base is never teleported after construction."""

    def __init__(self, cfg: RobotConfig, client: int, pose: tuple[float, float, float]) -> None:
        self.cfg, self.client = cfg, client
        self.body = p.loadURDF(str(robot_urdf(cfg)), useFixedBase=True, physicsClientId=client)
        self.joint_index: dict[str, int] = {}
        self.link_index: dict[str, int] = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, j, physicsClientId=client)
            self.joint_index[info[1].decode()] = j
            self.link_index[info[12].decode()] = j
        self.base_ids = [self.joint_index[n] for n in BASE_JOINTS]
        self.arm_ids = [self._joint(j.name) for j in cfg.arm.joints]
        self.finger_ids = [self._joint(n) for n in cfg.gripper.joints]
        self.ee_id = self.link_index[cfg.arm.ee_link]
        self.arm_root_id = self.joint_index["arm_mount_fixed"]
        self.max_vel = np.array(cfg.base.max_vel)
        self.max_acc = np.array(cfg.base.max_acc)
        self._base_cmd = [0.0, 0.0, 0.0]  # commanded robot-frame velocity (see base_cmd)
        self.base_ref = np.zeros(3)  # acceleration-limited reference actually sent to the motors
        self._sent: list[float] | None = None  # last robot-frame reference sent to the motors
        self._settled = False  # the reference equals base_cmd and was sent: drive() has nothing to do
        self.arm_target = np.array(cfg.arm.stow, dtype=float)
        self._arm_list = self.arm_target.tolist()  # arm_target as floats, to compare new targets cheaply
        self._arm_sent = False  # arm_target not yet sent to the motors
        self._joint_ids = [*self.base_ids, *self.arm_ids, *self.finger_ids]  # proprio() reads these at once
        self.gripper_target = 1.0
        self.grasp: tuple[str, int] | None = None  # (object name, constraint id)
        for j, q in zip(self.base_ids, pose, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=client)
        for j, q in zip(self.arm_ids, self.arm_target, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=client)
        self.set_gripper(1.0, reset=True)
        for j in self.finger_ids:
            p.changeDynamics(self.body, j, lateralFriction=FINGER_FRICTION, physicsClientId=client)
        self.set_arm(self.arm_target)

    def _joint(self, name: str) -> int:
        if name not in self.joint_index:
            raise ValueError(f"robot '{self.cfg.name}': URDF has no joint '{name}'; have {sorted(self.joint_index)}")
        return self.joint_index[name]

    # --- actuation -------------------------------------------------------------------------
    @property
    def base_cmd(self) -> np.ndarray:
        """Commanded robot-frame base velocity (vx, vy, wz); drive() ramps the motors towards it."""
        return np.array(self._base_cmd)

    @base_cmd.setter
    def base_cmd(self, vel: np.ndarray | list[float]) -> None:
        self._base_cmd = [float(v) for v in vel]
        self._settled = False

    def set_arm(self, targets: np.ndarray) -> None:
        """Position targets for the arm motors (max velocity and force from the config).

        Unchanged targets send nothing: the motors already hold them (a hot path at the control rate)."""
        targets = targets.tolist() if isinstance(targets, np.ndarray) else [float(q) for q in targets]
        if self._arm_sent and targets == self._arm_list:
            return
        self._arm_list = targets
        self.arm_target = np.array(targets)
        self._arm_sent = True
        for j, q, spec in zip(self.arm_ids, targets, self.cfg.arm.joints, strict=True):
            p.setJointMotorControl2(
                self.body,
                j,
                p.POSITION_CONTROL,
                targetPosition=float(q),
                force=spec.max_force,
                maxVelocity=spec.max_velocity,
                physicsClientId=self.client,
            )

    def set_gripper(self, opening: float, reset: bool = False) -> None:
        """Opening 0..1 -> finger position targets; `reset` also snaps the fingers there."""
        if not reset and float(opening) == self.gripper_target:
            return  # the finger motors already hold this target
        self.gripper_target = float(opening)
        g = self.cfg.gripper
        for j, lo, hi in zip(self.finger_ids, g.closed, g.open, strict=True):
            q = lo + (hi - lo) * self.gripper_target
            if reset:
                p.resetJointState(self.body, j, q, physicsClientId=self.client)
            p.setJointMotorControl2(
                self.body,
                j,
                p.POSITION_CONTROL,
                targetPosition=q,
                force=g.max_force,
                maxVelocity=g.max_velocity,
                physicsClientId=self.client,
            )

    def drive(self, dt: float) -> None:
        """One physics substep of the base: ramp the reference within accel limits, send it.

        Scalar math on purpose: this runs at the physics rate, where numpy's per-call cost dominates.
        """
        if self._settled:
            return  # reference reached the command, not turning: the sent world-frame target holds
        ref = self.base_ref.tolist()
        for i, (target, acc) in enumerate(zip(self._base_cmd, self.max_acc.tolist(), strict=True)):
            step = acc * dt
            ref[i] += min(max(target - ref[i], -step), step)
        self.base_ref[:] = ref
        vx, vy, wz = ref
        if ref == self._sent and wz == 0.0:  # same reference, no turning: the world-frame target holds
            self._settled = ref == self._base_cmd  # until the next base_cmd
            return
        self._sent = ref
        yaw = p.getJointState(self.body, self.base_ids[2], physicsClientId=self.client)[0]
        c, s = math.cos(yaw), math.sin(yaw)
        b = self.cfg.base
        p.setJointMotorControlArray(
            self.body,
            self.base_ids,
            p.VELOCITY_CONTROL,
            targetVelocities=[c * vx - s * vy, s * vx + c * vy, wz],
            forces=[b.max_force, b.max_force, b.max_torque],
            physicsClientId=self.client,
        )

    # --- state -----------------------------------------------------------------------------
    def _states(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        st = p.getJointStates(self.body, ids, physicsClientId=self.client)
        return np.array([s[0] for s in st]), np.array([s[1] for s in st])

    def pose(self) -> np.ndarray:
        """(x, y, yaw) of the base in the world (wheel odometry in the sim is exact)."""
        x, y, yaw = (s[0] for s in p.getJointStates(self.body, self.base_ids, physicsClientId=self.client))
        return np.array([x, y, _wrap(yaw)])

    def velocity(self) -> np.ndarray:
        """(vx, vy, wz) in the robot frame."""
        return np.array(self.proprio()[1])

    def arm_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._states(self.arm_ids)

    def gripper_opening(self) -> float:
        return self.proprio()[4]

    def proprio(self) -> tuple[list[float], list[float], list[float], list[float], float]:
        """Base pose (x, y, yaw), robot-frame base velocity, arm positions and velocities, gripper
        opening: one pybullet call and plain float math (this runs every control step)."""
        st = p.getJointStates(self.body, self._joint_ids, physicsClientId=self.client)
        n = len(self.arm_ids)
        (x, vxw), (y, vyw), (yaw, wz) = ((s[0], s[1]) for s in st[:3])
        c, s_ = math.cos(yaw), math.sin(yaw)
        g = self.cfg.gripper
        frac = [(s[0] - lo) / (hi - lo) for s, lo, hi in zip(st[3 + n :], g.closed, g.open, strict=True)]
        opening = min(max(sum(frac) / len(frac), 0.0), 1.0)
        return (
            [x, y, _wrap(yaw)],
            [c * vxw + s_ * vyw, -s_ * vxw + c * vyw, wz],
            [s[0] for s in st[3 : 3 + n]],
            [s[1] for s in st[3 : 3 + n]],
            opening,
        )

    def link_frame(self, link: int) -> tuple[np.ndarray, np.ndarray]:
        """World (position, quaternion) of a link's URDF frame."""
        st = p.getLinkState(self.body, link, computeForwardKinematics=True, physicsClientId=self.client)
        return np.array(st[4]), np.array(st[5])

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World pose of the tool centre point."""
        pos, orn = self.link_frame(self.ee_id)
        tcp, _ = p.multiplyTransforms(pos, orn, self.cfg.arm.tcp_offset, [0, 0, 0, 1])
        return np.array(tcp), orn

    # --- grasping --------------------------------------------------------------------------
    def touching(self, body: int) -> list[int]:
        """Finger joint ids currently in contact with `body`."""
        return [
            j for j in self.finger_ids if p.getContactPoints(self.body, body, linkIndexA=j, physicsClientId=self.client)
        ]

    def update_grasp(self, objects: dict[str, int]) -> None:
        """Grasp assist: attach an object both closing fingers touch; release when opening."""
        if self.grasp is not None and self.gripper_target >= 0.5:
            p.removeConstraint(self.grasp[1], physicsClientId=self.client)
            self.grasp = None
        if self.grasp is None and self.gripper_target < 0.5 and self.cfg.gripper.grasp_assist:
            for name, body in objects.items():
                if len(self.touching(body)) == len(self.finger_ids):
                    self.attach(name, body)
                    return

    def attach(self, name: str, body: int) -> None:
        """Fix `body` to the gripper link in its current relative pose."""
        st = p.getLinkState(self.body, self.ee_id, physicsClientId=self.client)
        opos, oorn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        inv_pos, inv_orn = p.invertTransform(st[0], st[1])
        rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, opos, oorn)
        cid = p.createConstraint(
            self.body,
            self.ee_id,
            body,
            -1,
            p.JOINT_FIXED,
            [0, 0, 0],
            rel_pos,
            [0, 0, 0],
            rel_orn,
            physicsClientId=self.client,
        )
        p.changeConstraint(cid, maxForce=GRASP_CONSTRAINT_FORCE, physicsClientId=self.client)
        self.grasp = (name, cid)

    @property
    def held(self) -> str | None:
        return None if self.grasp is None else self.grasp[0]

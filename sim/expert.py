"""Scripted expert on privileged state: A* navigation, IK top-down grasping and placing."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import numpy as np

from agent.pybullet_quiet import pybullet as p
from sim.ik import ArmIK
from sim.nav import PRE_APPROACH, approach_pose
from sim.world import SimWorld

Command = tuple[np.ndarray, np.ndarray, float]
Script = Generator[Command, None, bool]

WAYPOINT_TOL = 0.15  # m: switch to the next waypoint
GOAL_TOL = (0.02, 0.03)  # m, rad: final pose tolerance before manipulating
NAV_GOAL_TOL = 0.25  # m: good enough for navigate tasks
PREGRASP = 0.06  # m above the grasp / place pose
LIFT = 0.10  # m to lift a grasped object
LIFT_BACK = 0.07  # m to pull it toward the base while lifting (reach is higher there)
STUCK_STEPS = 40  # replan when the base made no progress for this many steps
MAX_DRIVE_STEPS = 2000


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class Expert:
    """Acts for the task the world was reset with; call act() once per control step."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.cfg = world.robot
        self.ik = ArmIK(self.cfg)
        self.stow = np.array(self.cfg.arm.stow)
        self._last: Command = (np.zeros(3), self.stow.copy(), 1.0)
        self._script: Iterator[Command] = self._run()

    def act(self) -> Command:
        """(base_vel[3], arm_targets[n_arm], gripper) for the current state."""
        self._last = next(self._script, self._hold())
        return self._last

    def _hold(self) -> Command:
        return np.zeros(3), self._last[1], self._last[2]

    # --- task scripts ----------------------------------------------------------------------
    def _run(self) -> Script:
        st = self.world.privileged_state()
        task, args = st["task"], st["task_args"]
        if task == "navigate":
            return (yield from self._drive_to(st["goal_xy"], None, NAV_GOAL_TOL, 1.0))
        if task in ("pick", "fetch") and not (yield from self._pick(args["object"])):
            return False
        if task == "pick":
            return True
        target = args.get("on") or args["to"]
        return (yield from self._place(target, st["goal_xy"]))

    def _pick(self, obj: str) -> Script:
        layout = self.world.layout
        rec = layout.box(next(o.receptacle for o in layout.objects if o.name == obj))
        pos = self.world.privileged_state()["objects"][obj]["pos"]
        if not (yield from self._approach(rec, pos[:2], 1.0)):
            return False
        return (yield from self._grasp(obj))

    def _place(self, rec_name: str, goal_xy: np.ndarray) -> Script:
        rec = self.world.layout.box(rec_name)
        if not (yield from self._approach(rec, goal_xy, 0.0)):
            return False
        st = self.world.privileged_state()
        obj = st["held"]
        body = st["objects"][obj]["body"]
        bottom = p.getAABB(body, physicsClientId=self.world.client)[0][2]
        drop = st["tcp_pos"][2] - bottom  # tcp height above the object's lowest point
        z = rec.top + drop + 0.003  # release with the object (almost) touching
        yaw = self._tool_yaw(np.array([goal_xy[0], goal_xy[1], z]), None)
        for dz, grip in ((PREGRASP, 0.0), (0.0, 0.0)):
            yield from self._reach(np.array([goal_xy[0], goal_xy[1], z + dz]), yaw, grip)
        yield from self._wait(8, 1.0)
        tcp = self.world.privileged_state()["tcp_pos"]
        yield from self._reach(tcp + [0, 0, PREGRASP], yaw, 1.0)
        yield from self._arm_to(self.stow, 1.0)
        yield from self._wait(5, 1.0)
        return True

    # --- navigation ----------------------------------------------------------------------
    def _approach(self, rec: object, xy: np.ndarray, grip: float) -> Script:
        """Drive to the manipulation pose in front of `rec`, aligned with point `xy`."""
        goal = approach_pose(rec, xy)
        pre = approach_pose(rec, xy, standoff=PRE_APPROACH)
        yield from self._arm_to(self.stow, grip, max_steps=20, tol=0.3)
        return (yield from self._drive_to(pre[:2], goal[2], GOAL_TOL[0], grip, final=goal))

    def _drive_to(
        self,
        goal_xy: np.ndarray,
        goal_yaw: float | None,
        tol: float,
        grip: float,
        final: np.ndarray | None = None,
    ) -> Script:
        """Follow an A* path to goal_xy (then straight to `final`), ending at rest."""
        grid = self.world.grid
        end = final[:2] if final is not None else np.asarray(goal_xy)
        path, best, since = None, np.inf, 0
        for _ in range(MAX_DRIVE_STEPS):
            pose = self.world.robot_state.pose()
            if path is None or since > STUCK_STEPS:
                path = grid.plan(pose, np.asarray(goal_xy)) or [pose[:2]]
                path = (
                    path[1:]
                    + [np.asarray(goal_xy, dtype=float)]
                    + ([np.asarray(end, dtype=float)] if final is not None else [])
                )
                best, since = np.inf, 0
            while len(path) > 1 and np.linalg.norm(path[0] - pose[:2]) < WAYPOINT_TOL:
                path.pop(0)
            remaining = np.linalg.norm(path[0] - pose[:2]) + sum(
                np.linalg.norm(b - a) for a, b in zip(path[:-1], path[1:], strict=True)
            )
            since = 0 if remaining < best - 0.02 else since + 1
            best = min(best, remaining)
            d = path[0] - pose[:2]
            heading = np.arctan2(d[1], d[0])
            want_yaw = (
                goal_yaw if (goal_yaw is not None and remaining < 1.0) else (heading if remaining > 0.3 else pose[2])
            )
            yaw_err = _wrap(want_yaw - pose[2])
            speed = self.world.robot_state.velocity()
            if len(path) == 1 and remaining < tol and abs(yaw_err) < GOAL_TOL[1] and (np.linalg.norm(speed[:2]) < 0.02):
                yield np.zeros(3), self.stow, grip
                return True
            yield self._base_cmd(pose, d, remaining, yaw_err), self.stow, grip
        return False

    def _base_cmd(self, pose: np.ndarray, d: np.ndarray, remaining: float, yaw_err: float) -> np.ndarray:
        """Robot-frame velocity toward the next waypoint, decelerating into the goal."""
        vmax, amax = np.array(self.cfg.base.max_vel), np.array(self.cfg.base.max_acc)
        speed = min(vmax[0], np.sqrt(2 * 0.5 * amax[0] * remaining), 1.5 * remaining)
        v = d / max(np.linalg.norm(d), 1e-9) * speed
        c, s = np.cos(pose[2]), np.sin(pose[2])
        wz = np.sign(yaw_err) * min(vmax[2], np.sqrt(2 * 0.5 * amax[2] * abs(yaw_err)), 2.0 * abs(yaw_err))
        return np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], wz])

    # --- manipulation --------------------------------------------------------------------
    def _grasp(self, obj: str) -> Script:
        st = self.world.privileged_state()
        o = st["objects"][obj]
        body = o["body"]
        bottom, top = (c[2] for c in p.getAABB(body, physicsClientId=self.world.client))
        z = max(min(top - 0.025, bottom + 0.115), bottom + 0.022)  # palm clears the top
        target = np.array([o["pos"][0], o["pos"][1], z])
        yaw = self._tool_yaw(target, p.getEulerFromQuaternion(o["orn"])[2])
        yield from self._reach(target + [0, 0, PREGRASP], yaw, 1.0)
        yield from self._reach(target, yaw, 1.0)
        for _ in range(15):
            yield np.zeros(3), self._last[1], 0.0
            if self.world.robot_state.held == obj:
                break
        root = self.world.robot_state.link_frame(self.world.robot_state.arm_root_id)[0]
        back = (root[:2] - target[:2]) / np.linalg.norm(root[:2] - target[:2]) * LIFT_BACK
        yield from self._reach(target + [back[0], back[1], LIFT], yaw, 0.0)
        yield from self._wait(3, 0.0)
        return self.world.is_held(obj)

    def _tool_yaw(self, target: np.ndarray, obj_yaw: float | None) -> float:
        """Tool yaw for a top-down grasp: aligned with the object faces, near the arm's heading."""
        root, _ = self.world.robot_state.link_frame(self.world.robot_state.arm_root_id)
        heading = np.arctan2(target[1] - root[1], target[0] - root[0])
        if obj_yaw is None:
            return float(heading)
        options = [obj_yaw + k * np.pi / 2 for k in range(4)]
        return float(min(options, key=lambda a: abs(_wrap(a - heading))))

    def _reach(self, tcp: np.ndarray, yaw: float, grip: float) -> Script:
        """Move the tool centre to world point `tcp`, pointing down with tool yaw `yaw`."""
        rob = self.world.robot_state
        root = rob.link_frame(rob.arm_root_id)
        inv = p.invertTransform(*root)
        pos, orn = p.multiplyTransforms(*inv, tcp.tolist(), p.getQuaternionFromEuler([0, np.pi, yaw]))
        q, _ = self.ik.solve(np.array(pos), np.array(orn), rob.arm_state()[0])
        yield from self._arm_to(q, grip)

    def _arm_to(self, q: np.ndarray, grip: float, max_steps: int = 40, tol: float = 0.01) -> Script:
        for _ in range(max_steps):
            yield np.zeros(3), q, grip
            cur, vel = self.world.robot_state.arm_state()
            if np.max(np.abs(cur - q)) < tol and np.max(np.abs(vel)) < 0.05:
                return True
        return False

    def _wait(self, steps: int, grip: float) -> Script:
        for _ in range(steps):
            yield np.zeros(3), self._last[1], grip
        return True

    def close(self) -> None:
        self.ik.close()

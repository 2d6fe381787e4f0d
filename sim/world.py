"""SimWorld: the PyBullet household world behind the sim backend node, gym env and expert."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.config import RobotConfig, load_robot_config
from agent.robot.features import robot_features
from sim.cameras import look_matrices, render, setup_renderer
from sim.layout import Layout, generate_layout, load_scene_config
from sim.nav import OccupancyGrid
from sim.robot import Robot
from sim.scene import SceneHandles, build_scene
from sim.tasks import TaskSpec, TaskStatus, TaskTracker, load_task_config, sample_task

PLAN_MARGIN = 0.08  # extra clearance beyond the base radius for path planning, m


class SimWorld:
    """A procedural apartment with one mobile manipulator, driven at the control rate."""

    def __init__(
        self,
        robot: str | RobotConfig = "mobile_so101",
        *,
        image_size: tuple[int, int] = (64, 64),
        control_hz: float = 10.0,
        physics_hz: float = 240.0,
        render: bool = True,
        depth: bool = False,
        gui: bool = False,
        scene: str = "apartment",
        renderer: str = "tiny",
    ) -> None:
        self.robot = robot if isinstance(robot, RobotConfig) else load_robot_config(robot)
        self.image_size = tuple(image_size)
        self.control_hz, self.physics_hz = float(control_hz), float(physics_hz)
        self.substeps = max(1, round(physics_hz / control_hz))
        self.render, self.depth = render, depth
        self.scene_name = scene
        self.scene_cfg = load_scene_config(scene)
        self.client = p.connect(p.GUI if gui else p.DIRECT)
        self.renderer = setup_renderer(self.client, renderer) if render and not gui else p.ER_TINY_RENDERER
        self.layout: Layout | None = None
        self.grid: OccupancyGrid | None = None
        self.scene: SceneHandles | None = None
        self.robot_state: Robot | None = None
        self.task: TaskSpec | None = None
        self._tracker: TaskTracker | None = None
        self._time = 0.0
        # Limits as plain lists: apply() and observe() run every control step, where numpy's per-call cost dominates.
        self._vmax = list(self.robot.base.max_vel)
        self._arm_lo, self._arm_hi = self.robot.arm_lower, self.robot.arm_upper
        h, w = self.image_size
        self._blank = np.zeros((h, w, 3), np.uint8)  # render off: every camera shows this (read-only)
        self._blank.flags.writeable = False

    # --- declared interface --------------------------------------------------------------
    @property
    def features(self) -> dict[str, Any]:
        """Observation and action features (names, shapes, dtypes, units, limits): agent/robot/features.py."""
        return robot_features(self.robot, self.image_size, self.control_hz, self.depth)

    # --- episode -------------------------------------------------------------------------
    def reset(self, task: str = "fetch", seed: int = 0, layout_seed: int | None = None, **task_kwargs: str) -> dict:
        """Build the scene for `layout_seed` (default: `seed`), sample the task and the robot's
        start from `seed`; returns an observation. A fixed layout_seed = one home, many episodes."""
        task_cfg = load_task_config(task)
        c = self.client
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(1.0 / self.physics_hz, physicsClientId=c)
        self.layout = generate_layout(self.scene_cfg, seed if layout_seed is None else layout_seed)
        self.grid = OccupancyGrid(self.layout, self.robot.base.radius + PLAN_MARGIN)
        self.scene = build_scene(self.layout, c)
        self.task = sample_task(task, self.layout, self.grid, seed, **task_kwargs)
        self.robot_state = Robot(self.robot, c, tuple(self.task.start))
        if self.task.held_at_start:
            self._put_in_gripper(self.task.held_at_start)
        self._time = 0.0
        self._tracker = TaskTracker(self.task, task_cfg, self)
        return self.observe()

    def _put_in_gripper(self, name: str) -> None:
        """Start an episode holding `name`: object between the fingers, fingers closed on it."""
        rob, body = self.robot_state, self.scene.objects[name]
        tcp, orn = rob.tcp_pose()
        lo, hi = p.getAABB(body, physicsClientId=self.client)
        pos, _ = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        z = tcp[2] - (hi[2] - pos[2]) + 0.025  # top of the object 2.5 cm above the tcp
        closing = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)[:, 1]
        yaw = np.arctan2(closing[1], closing[0]) - np.pi / 2  # object x across the fingers
        p.resetBasePositionAndOrientation(
            body,
            [tcp[0], tcp[1], z],
            p.getQuaternionFromEuler([0, 0, yaw]),
            physicsClientId=self.client,
        )
        rob.attach(name, body)
        rob.set_gripper(0.0)
        for _ in range(int(0.3 * self.physics_hz)):
            p.stepSimulation(physicsClientId=self.client)

    def apply(self, base_vel: np.ndarray, arm_targets: np.ndarray, gripper: float) -> dict:
        """Clip a command to the robot's limits, send it, and return what was applied."""
        base = _floats("base_vel", base_vel, 3)
        arm = _floats("arm_targets", arm_targets, self.robot.n_arm)
        grip = min(max(_float("gripper", gripper), 0.0), 1.0)
        base = [min(max(v, -m), m) for v, m in zip(base, self._vmax, strict=True)]
        arm = [min(max(q, lo), hi) for q, lo, hi in zip(arm, self._arm_lo, self._arm_hi, strict=True)]
        rob = self._rob()
        rob.base_cmd = base
        rob.set_arm(arm)
        rob.set_gripper(grip)
        return {"base_vel": np.array(base), "arm_targets": np.array(arm), "gripper": grip}

    def stop(self) -> None:
        """Decelerate the base to rest within its accel limits; arm and gripper hold."""
        rob = self._rob()
        rob.base_cmd = np.zeros(3)
        rob.set_arm(rob.arm_state()[0])
        rob.set_gripper(rob.gripper_target)

    def step(self) -> None:
        """Advance one control period with the last applied command."""
        rob, dt = self._rob(), 1.0 / self.physics_hz
        for _ in range(self.substeps):
            rob.drive(dt)
            p.stepSimulation(physicsClientId=self.client)
            self._time += dt
        rob.update_grasp(self.scene.objects)
        self._tracker.update()

    def observe(self) -> dict:
        """Camera images and proprioception (see `features`)."""
        rob = self._rob()
        obs: dict[str, Any] = {}
        for cam in ("head", "wrist"):
            rgb, depth = self._camera(cam)
            obs[cam] = rgb
            if self.depth:
                obs[f"{cam}_depth"] = depth
        pose, vel, q, dq, opening = rob.proprio()
        n = len(q)
        flat = np.array([*pose, *vel, *q, *dq])  # one array, four views: one numpy call per step
        obs.update(
            base_pose=flat[:3],
            base_vel=flat[3:6],
            arm=flat[6 : 6 + n],
            arm_vel=flat[6 + n :],
            gripper=opening,
            time=self._time,
        )
        return obs

    def _camera(self, cam: str) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = self.image_size
        if not self.render:
            return self._blank, (np.zeros((h, w), np.float32) if self.depth else None)
        spec = self.robot.cameras[cam]
        rob = self._rob()
        pos, orn = rob.link_frame(rob.link_index[spec.link])
        view, proj = look_matrices(pos, orn, spec, self.image_size)
        return render(
            self.client,
            view,
            proj,
            self.image_size,
            self.layout.light,
            spec.near,
            spec.far,
            self.depth,
            self.renderer,
        )

    @property
    def time(self) -> float:
        """Simulated time since reset, s."""
        return self._time

    def task_status(self) -> TaskStatus:
        if self._tracker is None:
            raise RuntimeError("task_status() before reset()")
        return self._tracker.status()

    def is_held(self, name: str) -> bool:
        """Whether the gripper holds object `name` (attached, or squeezed by both fingers)."""
        rob = self._rob()
        body = self.scene.objects[name]
        return rob.held == name or len(rob.touching(body)) == len(rob.finger_ids)

    def privileged_state(self) -> dict:
        """Ground truth for experts, probes and tests."""
        rob = self._rob()
        objects = {}
        for name, body in self.scene.objects.items():
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            objects[name] = {
                "pos": np.array(pos),
                "orn": np.array(orn),
                "body": body,
                "rest_z": self.scene.rest_z[name],
            }
        tcp, tcp_orn = rob.tcp_pose()
        return {
            "robot_pose": rob.pose(),
            "robot_body": rob.body,
            "tcp_pos": tcp,
            "tcp_orn": tcp_orn,
            "held": rob.held,
            "objects": objects,
            "task": self.task.name,
            "task_args": dict(self.task.args),
            "goal_xy": None if self.task.goal_xy is None else self.task.goal_xy.copy(),
            "receptacles": {b.name: self.scene.boxes[b.name] for b in self.layout.receptacles},
            "split": self.layout.split,
            "layout": self.layout,
            "grid": self.grid,
        }

    def close(self) -> None:
        if self.client is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None

    def _rob(self) -> Robot:
        if self.robot_state is None:
            raise RuntimeError("call reset() before driving the world")
        return self.robot_state

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _floats(field: str, value: Any, n: int) -> list[float]:
    """Command field as n plain floats; ValueError naming the field on NaN/inf or a wrong shape."""
    if type(value) is np.ndarray and value.shape == (n,) and value.dtype.kind == "f":
        out = value.tolist()
    else:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"command field '{field}' has shape {arr.shape}, expected ({n},)")
        out = arr.tolist()
    if not all(map(math.isfinite, out)):
        raise ValueError(f"command field '{field}' contains NaN or inf: {out}")
    return out


def _float(field: str, value: Any) -> float:
    """A scalar command field as a float; ValueError naming the field on NaN/inf or a non-scalar."""
    if type(value) is not float:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != ():
            raise ValueError(f"command field '{field}' has shape {arr.shape}, expected ()")
        value = float(arr)
    if not math.isfinite(value):
        raise ValueError(f"command field '{field}' contains NaN or inf: {value}")
    return value

"""gymnasium.Env over SimWorld: Dict(head, wrist, proprio) observations, flat Box actions, an rgb_array render;
importing it registers the `amibot/...` ids (sim/gym_register.py)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.gym_register import DEFAULT_ROBOT
from sim.video import third_person_frame
from sim.world import SimWorld

SEED_RANGE = 2**31 - 1


class HouseholdEnv(gym.Env):
    """Action = [vx, vy, wz, arm targets..., gripper], each in [-1, 1] mapped linearly onto the robot's
    limits (normalize_actions=False: in their own units, m/s, rad/s, rad, 0..1); reward 1 on the step
    the task succeeds. render_mode="rgb_array": render() returns a (render_size, render_size, 3) uint8 view from
    above and behind the robot (rendered only when asked for)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10.0}  # render_fps: the world's control rate

    def __init__(
        self,
        task: str = "fetch",
        robot: str = DEFAULT_ROBOT,
        image_size: tuple[int, int] = (64, 64),
        normalize_actions: bool = True,
        render_mode: str | None = None,
        render_size: int = 256,
        **world_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: expected None or one of {self.metadata['render_modes']}")
        self.render_mode, self.render_size = render_mode, render_size
        self.task = task
        self.normalize_actions = normalize_actions
        self.world = SimWorld(robot, image_size=image_size, **world_kwargs)
        self.metadata = {**self.metadata, "render_fps": self.world.control_hz}
        cfg = self.world.robot
        h, w = image_size
        n = cfg.n_arm
        self.proprio_names = (
            ["x", "y", "yaw", "vx", "vy", "wz"]
            + [f"{j.name}.pos" for j in cfg.arm.joints]
            + [f"{j.name}.vel" for j in cfg.arm.joints]
            + ["gripper"]
        )
        img = spaces.Box(0, 255, (h, w, 3), np.uint8)
        self.observation_space = spaces.Dict(
            {
                "head": img,
                "wrist": img,
                "proprio": spaces.Box(-np.inf, np.inf, (len(self.proprio_names),), np.float32),
            }
        )
        vmax = np.array(cfg.base.max_vel)
        self.action_low = np.concatenate([-vmax, cfg.arm_lower, [0.0]])  # the robot's limits, own units
        self.action_high = np.concatenate([vmax, cfg.arm_upper, [1.0]])
        if normalize_actions:
            self.action_space = spaces.Box(-1.0, 1.0, (3 + n + 1,), np.float32)
        else:
            low, high = self.action_low.astype(np.float32), self.action_high.astype(np.float32)
            self.action_space = spaces.Box(low, high, (3 + n + 1,), np.float32)

    def to_command(self, action: np.ndarray) -> np.ndarray:
        """An action of action_space in the robot's own units (the identity when not normalised)."""
        a = np.asarray(action, dtype=np.float64)
        if not self.normalize_actions:
            return a
        return self.action_low + (np.clip(a, -1.0, 1.0) + 1.0) / 2.0 * (self.action_high - self.action_low)

    def _obs(self, o: dict) -> dict[str, np.ndarray]:
        proprio = np.concatenate([o["base_pose"], o["base_vel"], o["arm"], o["arm_vel"], [o["gripper"]]]).astype(
            np.float32
        )
        return {"head": o["head"], "wrist": o["wrist"], "proprio": proprio}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        scene_seed = int(self.np_random.integers(SEED_RANGE)) if seed is None else seed
        obs = self.world.reset(self.task, scene_seed, **(options or {}))
        return self._obs(obs), {"seed": scene_seed, "task_args": dict(self.world.task.args)}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        a = self.to_command(action)
        n = self.world.robot.n_arm
        self.world.apply(a[:3], a[3 : 3 + n], float(a[3 + n]))
        self.world.step()
        status = self.world.task_status()
        info = {"success": status.success, "steps": status.steps, **status.metrics}
        truncated = status.done and not status.success
        return (
            self._obs(self.world.observe()),
            float(status.success),
            status.success,
            truncated,
            info,
        )

    def render(self) -> np.ndarray | None:
        """The third-person frame for render_mode "rgb_array"; None (with gymnasium's warning) without one."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='rgb_array'")
            return None
        return third_person_frame(self.world, size=self.render_size)

    def close(self) -> None:
        self.world.close()

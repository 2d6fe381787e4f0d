"""One sim-expert demonstration per job, run in a worker process (SimWorld + Expert in-process)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.data.spec import ENV_NAMES, action_vector, state_vector
from sim.expert import Expert
from sim.world import SimWorld

PUSH_STEPS = 3  # length of one random base push, control steps
PUSH_SCALE = 0.5  # push speed as a fraction of the base's max velocity
ARM_NOISE_RAD = 0.5  # arm target noise std per unit of --noise, rad
# privileged.environment_state of sim recordings: ground truth for probes and tests (no policy input)


@dataclass(frozen=True)
class Job:
    """One episode to generate: task, seed and how much to perturb the expert."""

    index: int
    task: str
    seed: int
    noise: float = 0.05  # action noise std, as a fraction of the base limits (arm: x ARM_NOISE_RAD)
    perturb: float = 0.02  # chance per step of starting a random base push
    max_steps: int = 0  # 0: the task's own step limit
    layout_seed: int | None = None  # one apartment for every episode (None: each seed its own)


@dataclass
class EpisodeData:
    """A finished episode, ready for DatasetWriter."""

    job: Job
    instruction: str
    task_args: dict[str, str]  # as sampled from the seed
    success: bool
    state: np.ndarray  # [T, D_state] float32
    action: np.ndarray  # [T, D_action] float32, the command actually applied
    images: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> [T, H, W, 3] uint8
    capture_time: np.ndarray = field(default_factory=lambda: np.zeros(0))  # sim time [T]
    env_state: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ENV_NAMES)), np.float32))  # [T, E]

    def extras(self) -> dict[str, object]:
        """Episode-row fields; task_args stays {} since the seed alone picks the arguments."""
        layout = -1 if self.job.layout_seed is None else self.job.layout_seed
        return {"sim_task": self.job.task, "seed": self.job.seed, "layout_seed": layout, "success": self.success}


def describe(task: str, args: dict[str, str]) -> str:
    """The natural-language instruction stored as the LeRobot task string."""
    clean = {k: v.replace("_", " ") for k, v in args.items()}
    if task == "navigate":
        return f"go to the {clean['to']}"
    if task == "pick":
        return f"pick up the {clean['object']}"
    if task == "place":
        return f"place the {clean['object']} on the {clean['on']}"
    return f"bring the {clean['object']} to the {clean['to']}"


def env_state(world: SimWorld) -> np.ndarray:
    """ENV_NAMES from privileged state: robot (x, y) and the task's object (navigate: its goal)."""
    priv = world.privileged_state()
    obj = priv["task_args"].get("object")
    if obj is not None:
        target = priv["objects"][obj]["pos"]
    else:
        target = np.array([*priv["goal_xy"], 0.0])
    return np.array([*priv["robot_pose"][:2], *target], np.float32)


_world: SimWorld | None = None


def init_worker(robot: str, image_size: tuple[int, int], control_hz: float) -> None:
    """Pool initializer: one sim world per worker process, reused across episodes."""
    global _world
    _world = SimWorld(robot, image_size=image_size, control_hz=control_hz)


def run_job(job: Job) -> EpisodeData:
    """Reset to the job's task and seed, let the noisy expert act until done or max_steps."""
    assert _world is not None, "init_worker() first"
    return run_in(_world, job)


def run_in(world: SimWorld, job: Job) -> EpisodeData:
    rng = np.random.default_rng([job.seed, 7])
    obs = world.reset(job.task, job.seed, layout_seed=job.layout_seed)
    expert = Expert(world)
    vmax = np.array(world.robot.base.max_vel)
    states, actions, caps, envs = [], [], [], []
    images: dict[str, list[np.ndarray]] = {"head": [], "wrist": []}
    push, push_left = np.zeros(3), 0
    status = world.task_status()
    try:
        while not status.done and not (job.max_steps and len(actions) >= job.max_steps):
            base, arm, grip = expert.act()
            if push_left == 0 and rng.random() < job.perturb:
                push, push_left = rng.uniform(-PUSH_SCALE, PUSH_SCALE, 3) * vmax, PUSH_STEPS
            if push_left:
                base, push_left = push, push_left - 1
            base = base + rng.normal(0, job.noise, 3) * vmax
            arm = arm + rng.normal(0, job.noise * ARM_NOISE_RAD, len(arm))
            applied = world.apply(base, arm, grip)
            states.append(state_vector(obs["base_pose"], obs["arm"], obs["gripper"]))
            actions.append(action_vector(applied["base_vel"], applied["arm_targets"],
                                         applied["gripper"]))  # fmt: skip
            caps.append(obs["time"])
            envs.append(env_state(world))
            for cam in images:
                images[cam].append(obs[cam])
            world.step()
            obs = world.observe()
            status = world.task_status()
    finally:
        expert.close()
    return EpisodeData(
        job=job,
        instruction=describe(job.task, dict(world.task.args)),
        task_args=dict(world.task.args),
        success=bool(status.success),
        state=np.stack(states),
        action=np.stack(actions),
        images={cam: np.stack(v) for cam, v in images.items()},
        capture_time=np.array(caps),
        env_state=np.stack(envs),
    )

"""Drive the sim with an episode's recorded actions (same task and seed) and measure divergence."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from agent.data.reader import Dataset
from agent.data.spec import split_action, state_vector
from sim.world import SimWorld


@dataclass
class Divergence:
    """How far the replayed states drifted from the recorded ones."""

    episode: int
    steps: int
    max_state_error: float  # max over steps of the largest |replayed - recorded| state component
    mean_state_error: float
    final_pose_error: float  # m, base x/y at the last recorded frame
    success: bool  # whether the replay ended in task success (recorded: see the episode row)


def replay(ds: Dataset, ep: int, world: SimWorld | None = None) -> Divergence:
    """Reset to the episode's task/seed, apply its actions, compare states frame by frame."""
    if not 0 <= ep < len(ds):
        raise ValueError(f"no episode {ep} (the dataset has {len(ds)})")
    meta = ds.episodes[ep]
    if not meta.get("sim_task") or meta.get("seed") is None or meta["seed"] < 0:
        raise ValueError(f"episode {ep} was not recorded in the amibot sim (no sim_task/seed; robot "
                         f"{ds.info.get('robot_type')}): only sim recordings replay")  # fmt: skip
    data = ds.episode(ep)
    h, w = ds.features["observation.images.head"]["shape"][:2]
    own = world is None
    world = world or SimWorld(ds.info["robot_type"], image_size=(h, w), control_hz=ds.fps,
                              render=False)  # fmt: skip
    try:
        layout = meta.get("layout_seed")  # absent or null in episodes recorded before it existed
        layout = -1 if layout is None or layout != layout else int(layout)  # (layout != layout: NaN)
        args = json.loads(meta["task_args"])
        obs = world.reset(meta["sim_task"], int(meta["seed"]), layout_seed=None if layout < 0 else layout, **args)
        n_arm = world.robot.n_arm
        recorded, actions = data["observation.state"], data["action"]
        errors = []
        for t in range(len(actions)):
            state = state_vector(obs["base_pose"], obs["arm"], obs["gripper"])
            errors.append(float(np.max(np.abs(state - recorded[t]))))
            world.apply(*split_action(actions[t], n_arm))
            world.step()
            obs = world.observe()
        final = float(np.linalg.norm(state[:2] - recorded[-1][:2]))
        return Divergence(ep, len(actions), max(errors), float(np.mean(errors)), final,
                          bool(world.task_status().success))  # fmt: skip
    finally:
        if own:
            world.close()

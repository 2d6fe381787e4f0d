"""Gymnasium ids for HouseholdEnv, one per task and robot: `amibot/Fetch-v0` (the default robot),
`amibot/Fetch-MobilePanda-v0`. Registered on import, as gymnasium 1.x third-party packages do."""

from __future__ import annotations

import gymnasium as gym

from agent.robot.config import known_robots
from sim.tasks import TASKS

NAMESPACE = "amibot"
DEFAULT_ROBOT = "mobile_so101"
ENTRY_POINT = "sim.gym_env:HouseholdEnv"


def env_id(task: str, robot: str = DEFAULT_ROBOT) -> str:
    """`amibot/<Task>[-<Robot>]-v0`, the robot in CamelCase and left out for the default one."""
    name = task.capitalize()
    if robot != DEFAULT_ROBOT:
        name += "-" + "".join(part.capitalize() for part in robot.split("_"))
    return f"{NAMESPACE}/{name}-v0"


ENV_KWARGS = {env_id(task, robot): {"task": task, "robot": robot} for robot in known_robots() for task in TASKS}
for _id, _kwargs in ENV_KWARGS.items():
    gym.register(_id, entry_point=ENTRY_POINT, kwargs=_kwargs)

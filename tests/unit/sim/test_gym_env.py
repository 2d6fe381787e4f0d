"""The gymnasium env passes gymnasium's own checker; normalised actions map onto the robot's limits."""

from __future__ import annotations

import warnings

import numpy as np
from gymnasium.utils.env_checker import check_env

from sim.gym_env import HouseholdEnv


def test_env_checker() -> None:
    env = HouseholdEnv("navigate", image_size=(16, 16))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=True)
        assert not [w for w in caught if "Box action spaces" in str(w.message)], "action space not normalised"
        obs, info = env.reset(seed=3)
        assert obs["head"].shape == (16, 16, 3) and "task_args" in info
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_normalised_actions_span_the_robot_limits() -> None:
    env = HouseholdEnv("navigate", image_size=(16, 16), render=False)
    raw = HouseholdEnv("navigate", image_size=(16, 16), render=False, normalize_actions=False)
    try:
        n = len(env.action_low)
        assert np.allclose(env.to_command(-np.ones(n)), env.action_low)
        assert np.allclose(env.to_command(np.ones(n)), env.action_high)
        assert np.allclose(env.to_command(np.zeros(n)), (env.action_low + env.action_high) / 2)
        assert np.allclose(env.to_command(5 * np.ones(n)), env.action_high)  # out of the box: clipped
        assert np.allclose(raw.action_space.high, raw.action_high) and np.allclose(raw.to_command(0.3), 0.3)
    finally:
        env.close()
        raw.close()

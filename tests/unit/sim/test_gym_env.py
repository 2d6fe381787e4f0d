"""The gymnasium env passes gymnasium's own checker."""

from __future__ import annotations

from gymnasium.utils.env_checker import check_env

from sim.gym_env import HouseholdEnv


def test_env_checker() -> None:
    env = HouseholdEnv("navigate", image_size=(16, 16))
    try:
        check_env(env, skip_render_check=True)
        obs, info = env.reset(seed=3)
        assert obs["head"].shape == (16, 16, 3) and "task_args" in info
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
    finally:
        env.close()

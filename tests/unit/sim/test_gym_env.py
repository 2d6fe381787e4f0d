"""The gymnasium env passes gymnasium's own checker; normalised actions map onto the robot's limits; registered
ids make it through gymnasium.make; render_mode="rgb_array" feeds gymnasium's recording wrappers."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import av
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import RenderCollection

from agent.robot.config import known_robots
from sim.gym_env import HouseholdEnv
from sim.gym_register import ENV_KWARGS, env_id
from sim.tasks import TASKS
from sim.video import VideoWriter

REPO = Path(__file__).resolve().parents[3]


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


def test_registered_ids_one_per_task_and_robot() -> None:
    assert set(ENV_KWARGS) == {env_id(t, r) for t in TASKS for r in known_robots()}
    assert {"amibot/Navigate-v0", "amibot/Pick-v0", "amibot/Place-v0", "amibot/Fetch-MobilePanda-v0"} < set(ENV_KWARGS)
    assert env_id("fetch") == "amibot/Fetch-v0" and env_id("fetch", "mobile_panda") == "amibot/Fetch-MobilePanda-v0"
    env = gym.make("amibot/Pick-MobilePanda-v0", image_size=(16, 16), render=False, control_hz=5.0)
    try:
        assert env.unwrapped.task == "pick" and env.unwrapped.world.robot.name == "mobile_panda"
        assert env.render_mode is None and env.metadata["render_fps"] == 5.0
    finally:
        env.close()
    # a fresh interpreter: gymnasium's "module:id" form imports the module that registers the ids
    code = "import gymnasium as gym; print(gym.make('sim.gym_env:amibot/Fetch-v0', render=False).spec.kwargs)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "'task': 'fetch', 'robot': 'mobile_so101'" in out.stdout, out.stderr


def test_check_env_on_made_env_with_rgb_array_render() -> None:
    env = gym.make("amibot/Navigate-v0", render_mode="rgb_array", image_size=(16, 16), render_size=32)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)  # with its spec: also re-makes the env in each declared render mode
        assert not [str(w.message) for w in caught if "render" in str(w.message).lower()]
        env.reset(seed=1)
        frame = env.render()
        assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8 and frame.std() > 0
    finally:
        env.close()
    with pytest.raises(ValueError, match="render_mode 'human': expected None or one of \\['rgb_array'\\]"):
        HouseholdEnv("navigate", render_mode="human")


def test_render_collection_records_a_video(tmp_path: Path) -> None:
    """RecordVideo needs moviepy (not a dependency); RenderCollection is the same recording path without it."""
    env = RenderCollection(gym.make("amibot/Navigate-v0", render_mode="rgb_array", image_size=(16, 16), render_size=32))
    try:
        env.reset(seed=2)
        for _ in range(3):
            env.step(np.array([1.0, 0.0, 1.0] + [0.0] * (env.action_space.shape[0] - 3), np.float32))
        frames = env.render()
        assert len(frames) == 4 and all(f.shape == (32, 32, 3) and f.dtype == np.uint8 for f in frames)
        assert not np.array_equal(frames[0], frames[-1]), "the view does not follow the moving robot"
        writer = VideoWriter(tmp_path / "episode.mp4", fps=env.metadata["render_fps"])
        for f in frames:
            writer.write(f)
        writer.close()
        with av.open(str(tmp_path / "episode.mp4")) as video:
            assert [f.to_ndarray(format="rgb24").shape for f in video.decode(video=0)] == [(32, 32, 3)] * 4
    finally:
        env.close()

"""SimWorld command handling: clipping, NaN rejection, stop, features and observations."""

from __future__ import annotations

import numpy as np
import pytest

from sim.world import SimWorld


def test_features_declared_before_reset() -> None:
    w = SimWorld("mobile_so101", image_size=(16, 24), render=False)
    try:
        f = w.features
        assert f["observation"]["head"]["shape"] == (16, 24, 3)
        assert f["observation"]["arm"]["shape"] == (5,)
        assert f["action"]["arm_targets"]["low"] == w.robot.arm_lower
    finally:
        w.close()


def test_observation_matches_features(world: SimWorld) -> None:
    obs = world.reset("navigate", 0)
    for name, feat in world.features["observation"].items():
        value = np.asarray(obs[name])
        assert value.shape == tuple(feat["shape"]), name
        assert value.dtype == np.dtype(feat["dtype"]), name
    assert obs["head"].std() > 0


def test_apply_clips_and_returns_applied(world: SimWorld) -> None:
    world.reset("navigate", 0)
    r = world.robot
    arm = np.array(r.arm_upper) + 1.0
    applied = world.apply(np.array([5.0, -5.0, 9.0]), arm, 2.0)
    assert np.allclose(applied["base_vel"], [r.base.max_vel[0], -r.base.max_vel[1], r.base.max_vel[2]])
    assert np.allclose(applied["arm_targets"], r.arm_upper)
    assert applied["gripper"] == 1.0
    ok = world.apply(np.zeros(3), np.zeros(r.n_arm), 0.3)
    assert ok["gripper"] == pytest.approx(0.3)


@pytest.mark.parametrize("field", ["base_vel", "arm_targets", "gripper"])
def test_nan_command_raises_naming_field(world: SimWorld, field: str) -> None:
    world.reset("navigate", 0)
    cmd = {"base_vel": np.zeros(3), "arm_targets": np.zeros(world.robot.n_arm), "gripper": 0.5}
    cmd[field] = np.full_like(np.asarray(cmd[field], dtype=float), np.nan)
    with pytest.raises(ValueError, match=field):
        world.apply(**cmd)


def test_stop_brings_base_to_rest_and_arm_holds(world: SimWorld) -> None:
    world.reset("navigate", 1)
    arm = world.observe()["arm"]
    world.apply(np.array([0.3, 0.0, 0.5]), arm, 1.0)
    for _ in range(8):
        world.step()
    assert np.linalg.norm(world.observe()["base_vel"]) > 0.2
    world.stop()
    held = world.observe()["arm"]
    vmax, amax = np.array(world.robot.base.max_vel), np.array(world.robot.base.max_acc)
    bound = int(np.ceil(np.max(vmax / amax) * world.control_hz)) + 2
    for _ in range(bound):
        world.step()
    obs = world.observe()
    assert np.allclose(obs["base_vel"], 0.0, atol=0.01)
    assert np.allclose(obs["arm"], held, atol=0.02)


def test_base_is_blocked_by_walls(world: SimWorld) -> None:
    world.reset("navigate", 2)
    pose = world.observe()["base_pose"]
    world.apply(np.array([0.4, 0.0, 0.0]), world.observe()["arm"], 1.0)
    for _ in range(150):  # 15 s at 0.4 m/s would cross any room
        world.step()
    x, y, _ = world.observe()["base_pose"]
    lay = world.layout
    assert 0.0 < x < lay.width and 0.0 < y < lay.depth, (pose, x, y)


def test_mobile_panda_loads_and_steps() -> None:
    w = SimWorld("mobile_panda", image_size=(16, 16))
    try:
        obs = w.reset("pick", 0)
        assert obs["arm"].shape == (7,) and obs["head"].shape == (16, 16, 3)
        w.apply(np.array([0.2, 0.0, 0.0]), obs["arm"], 1.0)
        for _ in range(3):
            w.step()
        assert w.observe()["base_vel"][0] > 0.05
    finally:
        w.close()

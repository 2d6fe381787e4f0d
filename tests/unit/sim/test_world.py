"""SimWorld command handling: clipping, NaN rejection, stop, features and observations."""

from __future__ import annotations

import numpy as np
import pytest

from agent.pybullet_quiet import pybullet as p
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


def _drive_into(world: SimWorld, start: np.ndarray, heading: float, steps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Place the base at `start` facing `heading`, drive forward at full speed; (end pose, end velocity)."""
    rob = world.robot_state
    for j, q in zip(rob.base_ids, [start[0], start[1], heading], strict=True):
        p.resetJointState(rob.body, j, q, physicsClientId=world.client)
    world.apply(np.array([world.robot.base.max_vel[0], 0.0, 0.0]), rob.arm_state()[0], 1.0)
    for _ in range(steps):  # 6 s: the wall is under 1 m away
        world.step()
    return rob.pose(), rob.velocity()


def test_base_is_stopped_by_an_interior_wall(world: SimWorld) -> None:
    world.reset("navigate", 2)
    lay, radius = world.layout, world.robot.base.radius
    outer = {"wall_south", "wall_north", "wall_west", "wall_east"}
    wall = max((b for b in lay.boxes if b.kind == "wall" and b.name not in outer), key=lambda b: b.half[1])
    face = wall.center[0] - wall.half[0]  # its side facing the room west of it
    start = np.array([face - radius - 0.8, wall.center[1]])
    assert world.grid.line_free(start, start + [0.5, 0.0]), "no free run-up in front of the wall"
    pose, vel = _drive_into(world, start, 0.0)
    assert pose[0] > start[0] + 0.4, f"{wall.name}: the base did not drive towards it ({start} -> {pose})"
    assert pose[0] + radius < face + 0.01, f"{wall.name} at x={face:.2f}: the base went through to {pose}"
    assert abs(pose[1] - start[1]) < 0.1 and np.allclose(vel, 0.0, atol=0.02), (pose, vel)


def test_base_is_stopped_by_an_outer_wall(world: SimWorld) -> None:
    world.reset("navigate", 2)
    grid, radius = world.grid, world.robot.base.radius
    near = radius + 0.15  # centre distance from the west wall where planning still finds free floor
    ys = [
        y
        for y in np.arange(0.5, world.layout.depth - 0.5, 0.1)
        if grid.line_free(np.array([1.2, y]), np.array([near, y]))
    ]
    assert ys, "no free run-up to the west wall"
    start = np.array([1.2, ys[len(ys) // 2]])
    pose, vel = _drive_into(world, start, np.pi)
    assert pose[0] < start[0] - 0.4, f"the base did not drive towards the west wall ({start} -> {pose})"
    assert pose[0] - radius > -0.01, f"the west wall at x=0: the base went through to {pose}"
    assert abs(pose[1] - start[1]) < 0.1 and np.allclose(vel, 0.0, atol=0.02), (pose, vel)


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

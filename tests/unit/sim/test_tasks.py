"""Task success checks, each exercised in a success state and a failure state."""

from __future__ import annotations

import numpy as np
import pybullet as p

from sim.world import SimWorld


def _set_base(world: SimWorld, x: float, y: float) -> None:
    """Test-only: put the base at (x, y) (episodes never do this)."""
    rob = world.robot_state
    for j, q in zip(rob.base_ids[:2], (x, y), strict=True):
        p.resetJointState(rob.body, j, q, physicsClientId=world.client)


def _settle(world: SimWorld, steps: int = 10) -> None:
    world.stop()
    for _ in range(steps):
        world.step()


def test_navigate_success_and_failure(world: SimWorld) -> None:
    world.reset("navigate", 0)
    assert not world.task_status().success
    goal = world.privileged_state()["goal_xy"]
    _set_base(world, goal[0] + 0.3, goal[1])
    _settle(world, 1)
    status = world.task_status()
    assert status.success and status.done
    assert 0.0 <= status.metrics["spl"] <= 1.0
    _set_base(world, goal[0] + 0.8, goal[1])
    _settle(world, 1)
    assert not world.task_status().success


def test_pick_success_and_failure(world: SimWorld) -> None:
    world.reset("pick", 0)
    obj = world.task.args["object"]
    body = world.scene.objects[obj]
    assert not world.task_status().success
    rob = world.robot_state
    tcp, _ = rob.tcp_pose()
    p.resetBasePositionAndOrientation(
        body, [tcp[0] + 1.0, tcp[1], tcp[2] + 0.5], [0, 0, 0, 1], physicsClientId=world.client
    )
    assert not world.task_status().success  # lifted but not held
    p.resetBasePositionAndOrientation(body, tcp.tolist(), [0, 0, 0, 1], physicsClientId=world.client)
    rob.attach(obj, body)
    world.apply(np.zeros(3), world.observe()["arm"], 0.0)
    world.step()
    status = world.task_status()
    assert status.success, status


def _release_at(world: SimWorld, offset: float) -> None:
    """Drop the held object onto the target receptacle, `offset` m from the target point."""
    rob = world.robot_state
    obj = rob.held
    p.removeConstraint(rob.grasp[1], physicsClientId=world.client)
    rob.grasp = None
    world.apply(np.zeros(3), world.observe()["arm"], 1.0)
    body = world.scene.objects[obj]
    rec = world.layout.box(world.task.args.get("on") or world.task.args["to"])
    goal = world.privileged_state()["goal_xy"]
    lo, _ = p.getAABB(body, physicsClientId=world.client)
    pos, _ = p.getBasePositionAndOrientation(body, physicsClientId=world.client)
    z = rec.top + (pos[2] - lo[2]) + 0.002
    p.resetBasePositionAndOrientation(
        body,
        [goal[0] - rec.access[0] * offset, goal[1] - rec.access[1] * offset, z],
        [0, 0, 0, 1],
        physicsClientId=world.client,
    )
    _settle(world, 10)


def test_place_success_and_failure(world: SimWorld) -> None:
    world.reset("place", 1)
    assert world.robot_state.held == world.task.args["object"]
    assert not world.task_status().success
    _release_at(world, 0.02)
    assert world.task_status().success
    world.reset("place", 1)
    _release_at(world, 0.22)
    status = world.task_status()
    assert not status.success
    assert status.metrics["distance_to_target"] > 0.15


def test_fetch_success_and_failure(world: SimWorld) -> None:
    world.reset("fetch", 2)
    assert not world.task_status().success
    obj = world.task.args["object"]
    body = world.scene.objects[obj]
    rob = world.robot_state
    tcp, _ = rob.tcp_pose()
    p.resetBasePositionAndOrientation(body, tcp.tolist(), [0, 0, 0, 1], physicsClientId=world.client)
    rob.attach(obj, body)
    assert not world.task_status().success  # held, not placed
    _release_at(world, 0.0)
    assert world.task_status().success

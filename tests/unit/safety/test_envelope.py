"""Geometric rules with the real robot model: keep-out zones and collisions of the next configuration."""

from __future__ import annotations

import numpy as np

from agent.robot.config import load_robot_config
from agent.safety.config import Zone
from agent.safety.envelope import EnvelopeRules
from agent.safety.geometry import RobotGeometry
from agent.safety.scene import StaticBox
from tests.unit.safety.conftest import load


def test_keepout_and_scene_collision_stop_unless_moving_out() -> None:
    cfg = load("collision.scene=")
    robot = load_robot_config("mobile_so101")
    stow, reach = np.array(robot.arm.stow), np.array([0.0, 0.6, 0.6, 0.4, 0.0])
    probe = RobotGeometry(robot, [], cfg.collision.self_min_distance)
    probe.set(np.zeros(3), reach, 1.0)
    tcp = probe.tcp()
    probe.close()
    wall = StaticBox("wall", "wall", [tcp[0] - 0.02, -2.0, 0.0], [tcp[0] + 0.3, 2.0, 2.0])
    geom = RobotGeometry(robot, [wall], cfg.collision.self_min_distance)
    zone = Zone("stove", (tcp - 0.05).tolist(), (tcp + 0.05).tolist())
    rules = EnvelopeRules(geom, cfg, [zone])
    pose = np.zeros(3)
    assert rules(pose, stow, pose, stow, 1.0) == []
    reasons = {e.reason for e in rules(pose, stow, pose, reach, 1.0)}
    assert {"ee_keepout", "scene_collision"} <= reasons
    assert rules(pose, reach, pose, stow, 1.0) == []  # moving out of a violation is allowed
    geom.close()

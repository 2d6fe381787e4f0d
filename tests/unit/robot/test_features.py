"""The declared features, built once from the robot config for both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.robot.config import load_robot_config
from agent.robot.features import robot_features


@pytest.mark.parametrize("name", ["mobile_so101", "mobile_panda"])
def test_features_follow_the_robot_config(name: str) -> None:
    r = load_robot_config(name)
    f = robot_features(r, (48, 64), 20.0)
    obs, act = f["observation"], f["action"]
    assert f["control_hz"] == 20.0
    assert obs["head"]["shape"] == obs["wrist"]["shape"] == (48, 64, 3)
    assert obs["arm"]["names"] == act["arm_targets"]["names"] == [j.name for j in r.arm.joints]
    assert obs["arm"]["shape"] == obs["arm_vel"]["shape"] == (r.n_arm,)
    assert act["arm_targets"]["low"] == r.arm_lower and act["arm_targets"]["high"] == r.arm_upper
    assert act["arm_targets"]["max_velocity"] == [j.max_velocity for j in r.arm.joints]
    assert act["base_vel"]["high"] == r.base.max_vel and act["base_vel"]["low"] == [-v for v in r.base.max_vel]
    assert act["base_vel"]["max_acc"] == r.base.max_acc
    assert "head_depth" not in obs


def test_limits_and_depth_come_from_the_arguments() -> None:
    r = load_robot_config("mobile_so101")
    slow = replace(r, base=replace(r.base, max_vel=[0.1, 0.2, 0.3]))
    f = robot_features(slow, (32, 32), 10.0, depth=True)
    assert f["action"]["base_vel"]["high"] == f["observation"]["base_vel"]["high"] == [0.1, 0.2, 0.3]
    assert f["observation"]["head_depth"] == {"shape": (32, 32), "dtype": "float32",
                                              "names": ["height", "width"], "unit": "m"}  # fmt: skip

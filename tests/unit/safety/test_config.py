"""Safety limits are the robot's plus margins: a safety config may tighten them, never loosen them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.robot.config import CONFIG_DIR, load_robot_config
from agent.runtime.config import ConfigError
from tests.unit.safety.conftest import load

ROBOT = load_robot_config("mobile_so101")


def test_limits_left_out_are_the_robots(tmp_path: Path) -> None:
    cfg = load()
    assert cfg.arm.lower == ROBOT.arm_lower and cfg.arm.upper == ROBOT.arm_upper
    assert cfg.arm.max_vel == [j.max_velocity for j in ROBOT.arm.joints]
    assert cfg.base.max_vel == ROBOT.base.max_vel and cfg.base.max_acc == ROBOT.base.max_acc
    assert cfg.base.radius == ROBOT.base.radius
    data = yaml.safe_load((CONFIG_DIR / "mobile_so101.yaml").read_text())
    data["base"]["max_vel"] = [0.25, 0.2, 0.9]
    data["arm"]["joints"][1]["upper"] = 1.5
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(data))
    slow = load(f"collision.robot={tmp_path / 'slow.yaml'}")
    assert slow.base.max_vel == [0.25, 0.2, 0.9] and slow.arm.upper[1] == 1.5


def test_tighter_limits_are_kept() -> None:
    cfg = load("arm.max_vel=[1, 1, 1, 1, 2]", "arm.lower=[-1, -1, -1, -1, -1]", "base.max_vel=[0.2, 0.1, 1.0]",
               "base.radius=0.2")  # fmt: skip
    assert cfg.arm.max_vel == [1, 1, 1, 1, 2] and cfg.arm.lower == [-1] * 5 and cfg.arm.upper == ROBOT.arm_upper
    assert cfg.base.max_vel == [0.2, 0.1, 1.0] and cfg.base.max_acc == ROBOT.base.max_acc and cfg.base.radius == 0.2


@pytest.mark.parametrize(
    ("override", "key", "value", "limit"),
    [
        ("arm.max_vel=[3.5, 3, 3, 3, 3]", "arm.max_vel[0]", "3.5", "3.0"),
        ("arm.lower=[-1.92, -2.0, -1.69, -1.75, -2.79]", "arm.lower[1]", "-2.0", "-1.75"),
        ("arm.upper=[1.92, 1.75, 1.69, 1.75, 3.0]", "arm.upper[4]", "3.0", "2.79"),
        ("base.max_vel=[0.4, 0.4, 1.5]", "base.max_vel[2]", "1.5", "1.2"),
        ("base.max_acc=[1.0, 0.8, 2.5]", "base.max_acc[0]", "1.0", "0.8"),
        ("base.radius=0.1", "base.radius", "0.1", "0.17"),
    ],
)
def test_a_looser_limit_is_refused_naming_key_file_and_both_values(
    override: str, key: str, value: str, limit: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(override)
    msg = str(err.value)
    assert "configs/safety/mobile_so101.yaml" in msg and f"'{key}' = {value}" in msg
    assert f" {limit} of robot 'mobile_so101'" in msg and "configs/robots/mobile_so101.yaml" in msg


def test_a_limit_list_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'arm\.max_vel' has 4 values, robot 'mobile_so101' .* has 5"):
        load("arm.max_vel=[1, 1, 1, 1]")
    with pytest.raises(ConfigError, match=r"'arm\.max_acc' has 2 values, robot 'mobile_so101' .* 5 arm joints"):
        load("arm.max_acc=[1, 1]")

"""Robot configs: strict loading and agreement with the URDF joint limits."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from agent.robot.config import CONFIG_DIR, load_robot_config
from agent.robot.urdf import resolve_asset


@pytest.mark.parametrize("name", ["mobile_so101", "mobile_panda"])
def test_urdf_joint_limits_match_config(name: str) -> None:
    cfg = load_robot_config(name)
    urdf = ET.parse(resolve_asset(cfg.arm.urdf)).getroot()
    joints = {j.get("name"): j for j in urdf.findall("joint")}
    for spec in cfg.arm.joints:
        limit = joints[spec.name].find("limit")
        assert float(limit.get("lower")) == pytest.approx(spec.lower), spec.name
        assert float(limit.get("upper")) == pytest.approx(spec.upper), spec.name
        assert float(limit.get("velocity")) == pytest.approx(spec.max_velocity), spec.name
        assert float(limit.get("effort")) == pytest.approx(spec.max_force), spec.name
    for name_, closed, open_ in zip(cfg.gripper.joints, cfg.gripper.closed, cfg.gripper.open, strict=True):
        limit = joints[name_].find("limit")
        assert float(limit.get("lower")) <= closed < open_ <= float(limit.get("upper"))


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_names_key_file_and_expected(tmp_path: Path) -> None:
    data = yaml.safe_load((CONFIG_DIR / "mobile_so101.yaml").read_text())
    data["base"]["max_speed"] = 1.0
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=r"robot\.yaml.*base\.max_speed.*allowed.*max_vel"):
        load_robot_config(path)


def test_missing_key_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load((CONFIG_DIR / "mobile_so101.yaml").read_text())
    del data["arm"]["ee_link"]
    with pytest.raises(ValueError, match=r"robot\.yaml.*missing required key 'arm\.ee_link'"):
        load_robot_config(_write(tmp_path, data))


def test_unknown_robot_lists_known() -> None:
    with pytest.raises(ValueError, match="mobile_so101"):
        load_robot_config("no_such_robot")

"""Compose base + arm URDFs into one multibody URDF (and an arm-only URDF for IK)."""

from __future__ import annotations

import hashlib
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pybullet_data

from agent.robot.config import RobotConfig

ASSET_DIR = Path(__file__).resolve().parent / "assets"
CACHE_DIR = Path(tempfile.gettempdir()) / "amibot_urdf"


def resolve_asset(path: str) -> Path:
    """Map a config asset path: 'pybullet_data/...', absolute, or relative to agent/robot/assets."""
    if path.startswith("pybullet_data/"):
        return Path(pybullet_data.getDataPath()) / path.removeprefix("pybullet_data/")
    p = Path(path)
    return p if p.is_absolute() else ASSET_DIR / p


def _load(path: Path) -> ET.Element:
    """Parse a URDF and make its mesh file names absolute."""
    root = ET.parse(path).getroot()
    for mesh in root.iter("mesh"):
        name = mesh.get("filename", "").removeprefix("package://")
        if not Path(name).is_absolute():
            mesh.set("filename", str(path.parent / name))
    return root


def root_link(robot: ET.Element) -> str:
    """Name of the link that is no joint's child."""
    children = {j.find("child").get("link") for j in robot.findall("joint")}
    (root,) = [lk.get("name") for lk in robot.findall("link") if lk.get("name") not in children]
    return root


def _write(robot: ET.Element, stem: str) -> Path:
    text = ET.tostring(robot, encoding="unicode")
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    out = CACHE_DIR / f"{stem}-{digest}.urdf"
    if not out.exists():
        tmp = out.with_suffix(f".{digest}.tmp")
        tmp.write_text(text)
        tmp.replace(out)
    return out


def arm_urdf(cfg: RobotConfig) -> Path:
    """The arm alone (fixed base at its root link), with absolute mesh paths."""
    return _write(_load(resolve_asset(cfg.arm.urdf)), f"{cfg.name}_arm")


def robot_urdf(cfg: RobotConfig) -> Path:
    """Base and arm joined by a fixed joint at the configured mount."""
    base = _load(resolve_asset(cfg.base.urdf))
    arm = _load(resolve_asset(cfg.arm.urdf))
    arm_root = root_link(arm)
    for el in arm:
        if el.tag in ("link", "joint", "material"):
            base.append(el)
    joint = ET.SubElement(base, "joint", name="arm_mount_fixed", type="fixed")
    ET.SubElement(joint, "parent", link=cfg.arm.mount_link)
    ET.SubElement(joint, "child", link=arm_root)
    xyz = " ".join(str(v) for v in cfg.arm.mount_xyz)
    rpy = " ".join(str(v) for v in cfg.arm.mount_rpy)
    ET.SubElement(joint, "origin", xyz=xyz, rpy=rpy)
    return _write(base, cfg.name)

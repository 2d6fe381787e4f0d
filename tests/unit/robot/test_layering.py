"""Who may import whom: the robot description, safety, the runtime and the drivers do not need the simulator,
and drivers do not depend on the app layer."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Simulator apps under agent/ (expert recording, replay into the sim) and safety's sim-scene geometry: the
# static boxes of a sim episode are regenerated from sim/layout.py (hardware reads a map file instead).
SIM_ALLOWED = {
    "agent/data/replay.py": {"sim.world"},
    "agent/safety/scene.py": {"sim.layout"},
}
APP_LAYER = ("agent.teleop", "agent.data", "agent.planning", "agent.perception", "agent.world_model", "agent.view",
             "agent.cli", "agent.safety")  # fmt: skip


def imports(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def sources(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (REPO / d).rglob("*.py"))


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_agent_and_hardware_import_the_simulator_only_in_simulator_apps() -> None:
    bad = []
    for path in sources("agent", "hardware"):
        rel = path.relative_to(REPO).as_posix()
        sim = {m for m in imports(path) if _under(m, "sim")}
        bad += [f"{rel}: {m}" for m in sorted(sim - SIM_ALLOWED.get(rel, set()))]
    assert not bad, "import the robot description from agent.robot, not sim:\n" + "\n".join(bad)


def test_drivers_and_the_robot_description_do_not_import_the_app_layer() -> None:
    bad = []
    for path in sources("hardware", "agent/robot", "agent/runtime"):
        rel = path.relative_to(REPO).as_posix()
        bad += [f"{rel}: {m}" for m in sorted(imports(path)) if any(_under(m, app) for app in APP_LAYER)]
    assert not bad, "\n".join(bad)

"""pybullet is imported without its build banner, and only through agent.pybullet_quiet."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.integration.procs import REPO


def test_import_prints_nothing() -> None:
    code = "from agent.pybullet_quiet import pybullet; print('ok', pybullet.connect(pybullet.DIRECT))"
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (0, "ok 0\n", "")


def test_no_module_imports_pybullet_directly() -> None:
    direct = re.compile(r"^\s*(import pybullet\b|from pybullet import)", re.MULTILINE)
    found = [
        str(path.relative_to(REPO))
        for folder in ("agent", "sim", "hardware", "bench")
        for path in (REPO / folder).rglob("*.py")
        if path.name != "pybullet_quiet.py" and direct.search(path.read_text())
    ]
    assert not found, f"import pybullet through agent.pybullet_quiet (it keeps the build banner quiet): {found}"

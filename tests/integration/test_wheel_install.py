"""amibot as a user installs it: sdist -> wheel -> a fresh venv, run from a directory outside the repo.
Dependencies come from this interpreter's site-packages (a .pth in the venv), so nothing is downloaded."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(cmd: list[str | Path], cwd: Path) -> str:
    """stdout of cmd, which must succeed; no PYTHONPATH, so nothing reaches the repo by accident."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the amibot wheel (built from an sdist, as `python -m build` does)."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist, venv = tmp / "dist", tmp / "venv"
    build_sdist = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    run([sys.executable, "-c", build_sdist, dist], cwd=REPO)
    (sdist,) = dist.glob("amibot-*.tar.gz")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", dist, sdist], cwd=tmp)  # fmt: skip
    (wheel,) = dist.glob("amibot-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    site = run([venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp)
    deps = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(site.strip()) / "amibot_deps.pth").write_text("\n".join(deps) + "\n")
    run([sys.executable, "-m", "pip", "--python", venv / "bin/python", "install", "-q", "--no-deps", "--no-index",
         wheel], cwd=tmp)  # fmt: skip
    return venv


def test_installed_sim_runs_an_episode_from_another_directory(venv: Path, tmp_path: Path) -> None:
    where = run([venv / "bin/python", "-c", "import agent.resources as r; print(r.DATA_ROOT)"], cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv)  # the wheel's own copy of configs/, not the repo's
    out = run([venv / "bin/amibot", "sim", "--task", "navigate", "--seed", "0"], cwd=tmp_path)
    assert "task=navigate seed=0" in out and "success=True" in out


def test_installed_launch_graph_validates_from_another_directory(venv: Path, tmp_path: Path) -> None:
    out = run([venv / "bin/amibot", "launch", "launch/sim_fetch.yaml", "--check"], cwd=tmp_path)
    assert "graph 'sim_fetch' is valid" in out  # configs, and perception's default encoder, found in the wheel

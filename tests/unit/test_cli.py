"""Error paths of the `amibot` command: clear errors with exit code 2, help with exit code 0, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.cli import main
from tests.integration.procs import REPO


@pytest.mark.parametrize(("params", "why"), [("{bad", "are not JSON"), ("[1]", "must be a JSON object")])
def test_call_with_bad_params_names_them(params: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "ipc:///nonexistent/amibot.rpc", "stats", params]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: params {params!r} {why}"), err


def test_train_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    assert "amibot train {encoder,world-model}" in capsys.readouterr().out


def test_sim_with_an_unknown_robot_names_the_known_ones_without_a_banner() -> None:
    run = subprocess.run([sys.executable, "-m", "agent.cli", "sim", "--robot", "nope"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "unknown robot 'nope'" in run.stderr and "mobile_so101" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert "pybullet build time" not in run.stdout + run.stderr  # sim.run_episode imports pybullet

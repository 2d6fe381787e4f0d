"""The benchmarks keep running: tiny sizes, no timing asserted (targets live in the benches' own output)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def ratios(table: str) -> list[float]:
    return [float(x) for x in re.findall(r"\b(\d+\.\d\d)x\b", table)]


def test_bus_latency_prints_every_case_beside_raw_pyzmq(tmp_path: Path) -> None:
    out = tmp_path / "bus.md"
    run("bench/bus_latency.py", "--n", "10", "--rounds", "1", "--out", str(out))
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| pub->sub", "| req->rep"))]
    assert len(rows) == 12  # 2 patterns x 3 payloads x 2 transports
    assert all(len(ratios(row)) == 2 for row in rows)  # p50 and p99 ratios


def test_sim_step_prints_physics_and_render_ratios() -> None:
    text = run("bench/sim_step.py", "--blocks", "2", "--block-steps", "5")
    assert "physics steps/s" in text and "rendered frames/s" in text
    assert len(ratios(text)) == 2


def test_sim_step_refuses_more_steps_than_an_episode_holds() -> None:
    done = subprocess.run([sys.executable, "bench/sim_step.py", "--blocks", "20", "--block-steps", "40"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "600-step limit" in done.stderr

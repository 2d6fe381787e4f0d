"""E-stop latch file and CLI, the events report, and the differentiable guardrail costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from agent.runtime.config import ConfigError
from agent.safety import estop_cli, report, resume_cli
from agent.safety.estop import EstopLatch
from agent.safety.guardrails import Guardrails, joint_limit_cost, obstacle_cost
from tests.unit.safety.conftest import load


def test_estop_cli_trips_and_resets_without_a_node(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = str(tmp_path / "e.json")
    assert estop_cli.main(["--file", f, "--reason", "kid in the kitchen"]) == 0
    assert EstopLatch(f).read().tripped
    assert estop_cli.main(["--file", f, "--reset"]) == 2  # a reset needs a reason
    assert estop_cli.main(["--file", f, "--reset", "--reason", "all clear"]) == 0
    assert not EstopLatch(f).read().tripped
    assert estop_cli.main(["--file", f, "--rpc", f"ipc://{tmp_path}/none.rpc"]) == 1  # no node: file still set
    assert EstopLatch(f).read().tripped
    assert estop_cli.main(["--file", f, "--resume"]) == 1  # refused while tripped
    assert "reset it first" in capsys.readouterr().err and EstopLatch(f).read().tripped
    assert estop_cli.main(["--file", f, "--reset", "--reason", "all clear"]) == 0
    assert EstopLatch(f).read().resume_needed  # released, still held
    assert resume_cli.main(["--file", f]) == 0
    assert not EstopLatch(f).read().resume_needed


def test_corrupt_estop_file_counts_as_tripped(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    f.write_text("{not json")
    assert EstopLatch(f).read().tripped


def test_report_counts_by_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = tmp_path / "ev.jsonl"
    rows = [{"rule": "base.speed", "action": "clamp", "reason": "base_speed"}] * 3
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\nbroken\n")
    assert report.main(["events", "--log", str(log), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["events"][0]["count"] == 3 and out["unreadable_lines"] == 1
    assert report.main(["events", "--log", str(tmp_path / "missing")]) == 2


def test_config_errors_name_key_and_file() -> None:
    with pytest.raises(ConfigError, match=r"mobile_so101.yaml.*arm\.lowr"):
        load("arm.lowr=[1]")
    with pytest.raises(ConfigError, match="mobile_so101.yaml.*watchdog"):
        load("watchdog.cmd_timeout_s=0")


def test_guardrails_zero_inside_growing_towards_limits_and_differentiable() -> None:
    cfg = load("collision.scene=")
    lo, hi = torch.tensor(cfg.arm.lower), torch.tensor(cfg.arm.upper)
    q = torch.stack([lo + (hi - lo) * f for f in (0.5, 0.9, 0.97, 1.0)]).requires_grad_(True)  # [4, 5]
    cost = joint_limit_cost(q, lo, hi)
    assert cost[0] == 0 and cost[1] < cost[2] < cost[3]
    cost.sum().backward()
    assert torch.isfinite(q.grad).all() and (q.grad[3] > 0).all()
    box_lo, box_hi = torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 2.0]])
    pts = torch.tensor([[0.0, 1.5], [0.8, 1.5], [0.95, 1.5], [1.5, 1.5]], requires_grad=True)
    c = obstacle_cost(pts, box_lo, box_hi, margin=0.3)
    assert c[0] == 0 and c[1] < c[2] < c[3]
    c.sum().backward()
    assert torch.isfinite(pts.grad).all() and pts.grad[2, 0] > 0
    g = Guardrails(cfg, torch.zeros(0, 3), torch.zeros(0, 3), box_lo, box_hi)
    batch = torch.zeros(7, 5, requires_grad=True)
    total = g(batch, torch.zeros(7, 5), torch.zeros(7, 3), torch.full((7, 2), -3.0), torch.zeros(7, 3))
    assert total.shape == (7,) and (total == 0).all()
    fast = g(
        batch,
        torch.full((7, 5), 3.0),
        torch.full((7, 3), 0.5),
        torch.full((7, 2), 0.9),
        torch.zeros(7, 3),
    )
    assert (fast > 0).all()

"""A short scripted-expert episode succeeds (the 50-episode eval lives in sim.eval_expert)."""

from __future__ import annotations

from sim.run_episode import run_episode


def test_expert_navigates_seed_0() -> None:
    result = run_episode("navigate", 0)
    assert result.success, result
    assert result.metrics["spl"] > 0.5


def test_cli_main_runs_pick(capsys) -> None:
    from sim.run_episode import main

    assert main(["--task", "pick", "--seed", "4"]) == 0
    assert "success=True" in capsys.readouterr().out

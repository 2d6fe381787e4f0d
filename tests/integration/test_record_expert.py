"""`amibot record --expert` on 2 workers: 200 short episodes that validate and replay exactly.

Short on purpose: task pick (cheap reset: no cross-apartment path planning) cut at 3 steps, so
200 episodes finish in about a minute on 2 busy cores. Full-length runs: docs/data.md.
"""

from __future__ import annotations

from pathlib import Path

from agent.data import dataset_cli
from agent.data.layout import ENV_STATE
from agent.data.reader import Dataset
from agent.data.replay import replay
from agent.data.spec import spec_from_features
from agent.data.validate import validate
from agent.data.writer import DatasetWriter
from sim import record_cli
from sim.expert_episodes import Job, run_in
from sim.record_cli import save
from sim.world import SimWorld


def test_record_200_expert_episodes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "demos"
    argv = ["--expert", "--task", "pick", "--episodes", "200", "--workers", "2", "--out", str(out),
            "--max-steps", "3", "--seed", "100"]  # fmt: skip
    assert record_cli.main(argv) == 0
    assert "recorded 200 episode(s), 600 frames" in capsys.readouterr().out
    assert validate(out) == {
        "episodes": 200,
        "frames": 600,
        "tasks": validate(out)["tasks"],
        "fps": 10,
    }
    ds = Dataset(out)
    assert sorted(e["seed"] for e in ds.episodes) == list(range(100, 300))
    assert replay(ds, 7).max_state_error < 1e-3  # same task + seed + actions -> same states
    assert dataset_cli.main(["validate", str(out)]) == 0


def test_resume_appends_new_seeds(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    common = ["--expert", "--task", "pick", "--workers", "1", "--out", str(out), "--max-steps", "2"]
    assert record_cli.main([*common, "--episodes", "2"]) == 0
    assert record_cli.main([*common, "--episodes", "2"]) == 2  # refuses to overwrite
    assert record_cli.main([*common, "--episodes", "1", "--resume"]) == 0
    ds = Dataset(out)
    assert sorted(e["seed"] for e in ds.episodes) == [0, 1, 2]
    validate(out)


def test_resume_a_dataset_recorded_before_environment_state(tmp_path: Path) -> None:
    """Older datasets (no observation.environment_state, no layout_seed column) resume and replay."""
    out = tmp_path / "old"
    with SimWorld(image_size=(64, 64)) as world:
        spec = spec_from_features(world.features, "mobile_so101")  # no env_names, as before
        writer = DatasetWriter(out, spec)
        save(writer, run_in(world, Job(0, "pick", 0, max_steps=2)))
        writer.close()
    common = ["--expert", "--task", "pick", "--workers", "1", "--out", str(out), "--max-steps", "2"]
    assert record_cli.main([*common, "--episodes", "1", "--resume"]) == 0
    validate(out)
    ds = Dataset(out)
    assert len(ds.episodes) == 2 and ENV_STATE not in ds.features
    assert replay(ds, 0).max_state_error < 1e-3

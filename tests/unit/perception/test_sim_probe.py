"""Sim probe evaluation: the probe separates signal from noise, held-out episodes stay apart, CLI."""

import json
from pathlib import Path

import numpy as np
import torch

from agent.perception.clips import ClipDataset, Episode, save_episodes, synthetic_episodes
from agent.perception.collapse import ProbeSet
from agent.perception.model import VJEPA
from agent.perception.sim_probe import TARGETS, main, probe_data, probe_table, random_init
from agent.perception.train import train


def test_probe_separates_linear_features_from_noise() -> None:
    g = torch.Generator().manual_seed(0)
    episode = torch.arange(20).repeat_interleave(10)  # 20 episodes x 10 rows
    state = torch.rand(200, 5, generator=g)
    linear = state @ torch.randn(5, 12, generator=g) + 0.01 * torch.randn(200, 12, generator=g)
    noise = torch.randn(200, 12, generator=g)
    probe = ProbeSet(torch.zeros(200, 1), state, episode)
    test = episode >= 15
    table = probe_table({"linear": linear, "noise": noise}, probe, test)
    assert set(table["linear"]) == set(TARGETS)
    assert all(r > 0.95 for r in table["linear"].values())
    assert all(r < 0.1 for r in table["noise"].values())


def _sim_like(count: int, seed: int) -> list[Episode]:
    """Synthetic episodes with a 5-column state, as sim recordings have (ENV_NAMES)."""
    eps = synthetic_episodes(count, length=8, size=32, num_objects=3, seed=seed)
    return [Episode(e.frames, e.state[:, :5].copy(), e.index) for e in eps]


def test_heldout_episodes_are_renumbered_after_fit_episodes() -> None:
    fit, held = (ClipDataset(_sim_like(4, s), frames=4) for s in (0, 1))
    probe, test = probe_data(fit, held, clips=12, heldout_clips=8)
    assert int(test.sum()) == 8 and not test[:12].any()
    assert probe.episode[test].min() > probe.episode[~test].max()
    alone, test_alone = probe_data(fit, None, clips=12, heldout_clips=0)
    assert set(alone.episode[test_alone].tolist()) == {3}  # last 25% of 4 episodes


def test_random_init_is_the_runs_starting_point(make_config) -> None:
    cfg = make_config(seed=3)
    torch.manual_seed(cfg.train.seed)  # what train() does before building the model
    a, b = VJEPA(cfg.encoder).state_dict(), random_init(cfg).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_writes_table_json_and_plot(make_config, tmp_path: Path) -> None:
    save_episodes(_sim_like(4, 0), tmp_path / "fit")
    save_episodes(_sim_like(2, 1), tmp_path / "held")
    train(make_config(probe_every=0), ClipDataset(_sim_like(4, 0), frames=4), tmp_path / "run", progress=False)
    argv = ["--data", str(tmp_path / "fit"), "--heldout", str(tmp_path / "held"), "--run", str(tmp_path / "run")]
    assert main([*argv, "--clips", "16", "--heldout-clips", "8"]) == 0
    out = json.loads((tmp_path / "run" / "sim_probe_grid.json").read_text())
    assert out["width"] == 16 * 32 and out["test_clips"] == 8 and out["test_episodes"] == 2
    assert len(out["table"]) == 3 and all(np.isfinite(list(r.values())).all() for r in out["table"].values())
    assert (tmp_path / "run" / "sim_probe_grid.png").stat().st_size > 0

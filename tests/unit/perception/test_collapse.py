"""Collapse watch metrics, warning, and the PCA-of-pixels baseline."""

import logging
import math

import pytest
import torch

from agent.perception.baselines import pca_probe_r2
from agent.perception.clips import ClipDataset, synthetic_episodes
from agent.perception.collapse import (
    MIN_PROBE_EPISODES,
    ProbeSet,
    collapse_report,
    describe_r2,
    effective_rank,
    embedding_std,
    probe_r2,
    warn_if_collapsed,
)


def test_metrics_separate_healthy_from_collapsed() -> None:
    g = torch.Generator().manual_seed(0)
    healthy = torch.randn(256, 32, generator=g)
    collapsed = torch.ones(256, 32) + 1e-6 * torch.randn(256, 32, generator=g)
    assert effective_rank(healthy) > 20 and effective_rank(collapsed) < effective_rank(healthy)
    assert embedding_std(healthy) > 0.5 and embedding_std(collapsed) < 1e-4
    assert effective_rank(torch.ones(64, 8)) == pytest.approx(1.0)


def test_probe_r2_perfect_and_useless() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.rand(200, 4, generator=g)
    x = torch.cat([y @ torch.randn(4, 16, generator=g), torch.randn(200, 8, generator=g)], 1)
    assert probe_r2(x[:150], y[:150], x[150:], y[150:]) > 0.99
    noise = torch.randn(200, 24, generator=g)
    assert probe_r2(noise[:150], y[:150], noise[150:], y[150:]) < 0.1


def test_warning_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert warn_if_collapsed({"emb_std": 1e-5, "eff_rank": 1.0}, 0.02, 2.0)
    assert "COLLAPSE" in caplog.text
    assert not warn_if_collapsed({"emb_std": 0.5, "eff_rank": 10.0}, 0.02, 2.0)


def test_probe_set_and_pca_baseline(clips) -> None:
    probe = ProbeSet.from_dataset(clips, 30)
    train, test = probe.split()
    assert set(probe.episode[train].tolist()).isdisjoint(probe.episode[test].tolist())
    many = ProbeSet.from_dataset(ClipDataset(synthetic_episodes(MIN_PROBE_EPISODES, 6, 32, seed=0), 4), 64)
    assert math.isfinite(pca_probe_r2(many, 8))  # short episodes: the value itself is noise


def test_too_few_episodes_give_no_probe_number() -> None:
    """4 episodes (1 held out) gave probe_r2 -6e14 on sim data: now None, logged as n/a with the reason."""
    probe = ProbeSet.from_dataset(ClipDataset(synthetic_episodes(4, 10, 32, seed=0), frames=4), 64)
    report = collapse_report(probe.clips.flatten(1)[:, :64], probe)
    assert report["probe_r2"] is None and pca_probe_r2(probe, 8) is None
    assert report["eff_rank"] > 1  # the other numbers are still measured
    assert describe_r2(None) == f"n/a (needs >= {MIN_PROBE_EPISODES} episodes with varying state)"
    assert describe_r2(0.51234) == "0.512"


def test_probe_r2_skips_state_columns_constant_on_the_test_rows() -> None:
    """A state column that does not change on the held-out rows (an object never moved) has no R2."""
    g = torch.Generator().manual_seed(0)
    y = torch.rand(200, 2, generator=g)
    y[150:, 1] = 0.3  # constant on the test rows
    x = torch.cat([y @ torch.randn(2, 16, generator=g), torch.randn(200, 8, generator=g)], 1)
    assert probe_r2(x[:150], y[:150], x[150:], y[150:]) > 0.99  # column 0 only
    assert math.isnan(probe_r2(x[:150], y[:150, 1:], x[150:], y[150:, 1:]))


def test_probe_r2_dual_form_matches_primal() -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(60, 40, generator=g), torch.randn(60, 3, generator=g)
    wide = torch.cat([x, torch.zeros(60, 40)], 1)  # 80 features > 45 training rows: dual form
    primal = probe_r2(x[:45], y[:45], x[45:], y[45:], alpha=10.0)  # 40 features: primal form
    assert probe_r2(wide[:45], y[:45], wide[45:], y[45:], alpha=10.0) == pytest.approx(primal)

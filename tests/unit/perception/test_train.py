"""Training loop: checkpoint + resume equals an uninterrupted run; metrics and CLI."""

import json
import logging
from pathlib import Path

import pytest
import torch

from agent.perception.checkpoint import CHECKPOINT, load_model
from agent.perception.clips import save_episodes, synthetic_episodes
from agent.perception.train import lr_factor, main, train


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_resume_matches_uninterrupted_run(make_config, clips, tmp_path: Path) -> None:
    cfg = make_config()
    full = train(cfg, clips, tmp_path / "full", progress=False)
    train(cfg, clips, tmp_path / "cut", stop_after=4, progress=False)  # "killed" after step 4
    resumed = train(cfg, clips, tmp_path / "cut", resume=True, progress=False)

    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert _losses(tmp_path / "full") == _losses(tmp_path / "cut")  # steps 5, 6 included
    a = torch.load(tmp_path / "full" / CHECKPOINT, weights_only=True)
    b = torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)
    assert a["step"] == b["step"] == 6
    assert a["scheduler"] == b["scheduler"]
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_outputs_and_collapse_watch(make_config, clips, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO):
        train(make_config(), clips, out, progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    probes = [r for r in rows if "probe_r2" in r]
    assert [r["step"] for r in probes] == [3, 6]
    assert {"emb_std", "eff_rank", "pca_probe_r2"} <= set(probes[0])
    assert probes[0]["probe_r2"] is None and probes[0]["pca_probe_r2"] is None  # 6 episodes: too few to probe
    assert "probe_r2 n/a (needs >= 8 episodes with varying state) (PCA n/a" in caplog.text
    assert (out / "metrics.png").stat().st_size > 0
    model = load_model(out / CHECKPOINT)
    assert model.embed(clips[0]["clip"][None]).shape == (1, 16, 32)  # [B, H'*W', D]
    with pytest.raises(FileExistsError):
        train(make_config(), clips, out, progress=False)


def test_lr_schedule_warmup_then_cosine(make_config) -> None:
    tc = make_config(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-5).train
    f = lr_factor(tc)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) < f(10) and f(100) * tc.lr == pytest.approx(tc.min_lr)


def test_cli_on_npz_directory(tmp_path: Path) -> None:
    save_episodes(synthetic_episodes(3, length=8, size=32, seed=0), tmp_path / "data")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "encoder: {img_size: 32, dim: 32, depth: 1, heads: 2, pred_dim: 16, pred_depth: 1,"
        " pred_heads: 2}\ntrain: {batch_size: 4, warmup_steps: 1, probe_clips: 12}\n"
    )
    argv = ["--data", str(tmp_path / "data"), "--config", str(cfg), "--out", str(tmp_path / "r")]
    assert main([*argv, "--steps", "2"]) == 0
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    assert max(_losses(tmp_path / "r")) == 3

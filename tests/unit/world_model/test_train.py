"""`amibot train world-model` end to end on a recorded dataset; exact resume; fp16 export; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from agent import train_cli
from agent.world_model import latent_cache
from agent.world_model.checkpoint import CHECKPOINT, load_model, main
from agent.world_model.config import config_from_dict
from agent.world_model.train import train
from tests.unit.data.helpers import SPEC
from tests.unit.world_model import DEVICE, synthetic

MODEL = dict(
    latent_tokens=16, latent_dim=16, proprio_dim=6, action_dim=6, proj_dim=4, dim=16, depth=1, heads=2, context=3
)
TRAIN = dict(steps=6, batch_size=2, warmup_steps=2, rollout=1, held_out=0.34, log_every=1, ckpt_every=2, eval_every=3)
TRAIN["device"] = DEVICE


def _config(path: Path, **model: int) -> Path:
    path.write_text(yaml.safe_dump({"model": MODEL | model, "train": TRAIN | {"eval_k": [1]}}))
    return path


def test_cli_trains_on_cached_latents(dataset: Path, encoder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    argv = [
        "world-model",
        "--data",
        str(dataset),
        "--encoder",
        str(encoder),
        "--config",
        str(_config(tmp_path / "wm.yaml")),
        "--out",
        str(out),
    ]
    with pytest.raises(SystemExit):
        train_cli.main(argv)  # no latent cache yet
    assert "no latent cache for encoder" in capsys.readouterr().err
    assert latent_cache.main(["--data", str(dataset), "--encoder", str(encoder)]) == 0
    assert train_cli.main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert (out / "metrics.png").stat().st_size > 0
    model, meta = load_model(out / CHECKPOINT, latent=(16, 16, "encoder"), action_names=SPEC.action_names)
    assert meta["action_names"] == SPEC.action_names and meta["encoder_sha256"] == latent_cache.file_sha256(encoder)
    with pytest.raises(ValueError, match=r"model.latent_dim: config 16, encoder models/big.pt 96"):
        load_model(out / CHECKPOINT, latent=(16, 96, "encoder models/big.pt"))
    with pytest.raises(ValueError, match=r"model.action_dim: config 6, robot command \['vx'"):
        load_model(out / CHECKPOINT, action_names=["vx", "vy", "wz", "j0.target", "j1.target", "j2.target", "gripper"])


def test_config_that_does_not_fit_the_encoder_or_robot_is_refused(
    dataset: Path, encoder: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    latent_cache.encode_dataset(dataset, encoder, progress=False)
    cfg = _config(tmp_path / "wm.yaml", latent_dim=96, action_dim=9)
    argv = [
        "world-model",
        "--data",
        str(dataset),
        "--encoder",
        str(encoder),
        "--config",
        str(cfg),
        "--out",
        str(tmp_path / "run"),
    ]
    with pytest.raises(SystemExit):
        train_cli.main(argv)
    err = capsys.readouterr().err
    assert f"model.latent_dim: config 96, encoder {encoder} 16" in err
    assert "model.action_dim: config 9, dataset" in err and "robot command ['vx', 'vy', 'wz', 'j0.target'" in err
    assert not (tmp_path / "run").exists()


def test_resume_matches_uninterrupted_run_and_export_is_fp16(tmp_path: Path) -> None:
    model = dict(
        latent_tokens=16,
        latent_dim=synthetic.DIM,
        proprio_dim=3,
        action_dim=3,
        proj_dim=4,
        dim=16,
        depth=1,
        heads=2,
        context=3,
    )
    cfg = config_from_dict({"model": model, "train": TRAIN | {"eval_k": [1, 2], "ckpt_every": 6}}, "<test>")
    eps, held = synthetic.episodes(4, 8, seed=0), synthetic.episodes(2, 8, seed=1)
    full = train(cfg, eps, held, tmp_path / "full", {}, progress=False)
    train(cfg, eps, held, tmp_path / "cut", {}, stop_after=4, progress=False)  # "killed" after step 4
    resumed = train(cfg, eps, held, tmp_path / "cut", {}, resume=True, progress=False)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    metrics = [(tmp_path / d / "metrics.jsonl").read_text() for d in ("full", "cut")]
    strip = [
        [{k: v for k, v in json.loads(r).items() if k != "windows_per_s"} for r in m.splitlines()] for m in metrics
    ]
    assert strip[0] == strip[1]  # held-out k-step rows at steps 3 and 6 included
    with pytest.raises(FileExistsError):
        train(cfg, eps, held, tmp_path / "full", {}, progress=False)
    other = config_from_dict({"model": model | {"proj_dim": 8}, "train": TRAIN}, "<test>")
    with pytest.raises(ValueError, match=r"model.proj_dim: checkpoint 4, config 8"):
        train(other, eps, held, tmp_path / "full", {}, resume=True, progress=False)

    assert main(["export", str(tmp_path / "full" / CHECKPOINT), str(path := tmp_path / "wm.pt")]) == 0
    state = torch.load(path, weights_only=True)
    assert "optimizer" not in state and state["model"]["proj.weight"].dtype == torch.float16
    half, _ = load_model(path)
    z = torch.from_numpy(held[0].z[None, :3])
    assert torch.allclose(half.encode(z), full.encode(z), atol=1e-2)

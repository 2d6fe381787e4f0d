"""Learning is tested by learning: seconds of training on a small action-driven latent world must
predict held-out episodes better than copy-the-last-latent at k = 1 and 5, and must use the action:
the same rollout driven by another window's actions is clearly worse."""

from __future__ import annotations

import os
from pathlib import Path

from agent.world_model.config import config_from_dict
from agent.world_model.kstep import kstep_errors
from agent.world_model.train import eval_batch, train
from tests.unit.world_model import DEVICE, synthetic

SEED = int(os.environ.get("LEARN_SEED", "0"))  # the margins below hold over seeds 0-2

MODEL = dict(latent_tokens=16, latent_dim=synthetic.DIM, proprio_dim=3, action_dim=synthetic.ACTION)
MODEL |= dict(proj_dim=32, dim=64, depth=1, heads=2, context=4)


def test_beats_copy_last_and_uses_the_action(tmp_path: Path) -> None:
    raw = {"model": MODEL, "train": dict(steps=500, batch_size=32, lr=3e-3, warmup_steps=20, rollout=2, seed=SEED)}
    raw["train"] |= dict(eval_every=0, ckpt_every=500, log_every=100, eval_k=[1, 5], device=DEVICE)
    cfg = config_from_dict(raw, "<test>")
    episodes = synthetic.episodes(200, length=24, seed=SEED)
    held_out = synthetic.episodes(16, length=24, seed=100 + SEED)
    model = train(cfg, episodes, held_out, tmp_path / "run", meta={}, progress=False)
    batch = eval_batch(held_out, cfg)
    assert batch is not None
    e = kstep_errors(model, batch, history=4, ks=[1, 5])  # CPU batch: moved to the model's device
    print(f"seed {SEED}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(e.items())))
    assert e["model_k1"] < 0.75 * e["copy_k1"], e
    assert e["model_k5"] < 0.8 * e["copy_k5"], e
    assert e["shuffled_k5"] > 1.3 * e["model_k5"], e  # the action matters

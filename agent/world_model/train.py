"""World-model training: `amibot train world-model --data DIR [--data DIR2] --encoder models/X.pt
--config configs/models/world_model_tiny.yaml --out runs/NAME`.

Reads the cached latents (amibot encode), trains the predictor with teacher forcing plus a k-step
rollout loss, logs held-out k-step error against copy-last, resumes exactly; torchrun-ready (DDP).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from agent.perception.metrics import MetricsLog, plot_metrics
from agent.perception.train import autocast, epoch_sampler, lr_factor, setup_distributed
from agent.world_model.checkpoint import CHECKPOINT, check_interface, load_checkpoint, save_checkpoint
from agent.world_model.config import Config, load_config
from agent.world_model.data import Episode, Windows, load_episodes, split_episodes, training_rows
from agent.world_model.kstep import kstep_errors
from agent.world_model.latent_cache import CacheError, file_sha256
from agent.world_model.model import WorldModel

log = logging.getLogger(__name__)
PANELS = [("loss",), ("tf_latent", "ro_latent"), ("lr",), ("model_k1", "copy_k1"), ("model_k5", "copy_k5")]
EVAL_WINDOWS = 256  # held-out windows per evaluation, evenly spaced
PCA_ROWS = 4096  # latent changes the initial projection is fitted on


class Loss(nn.Module):
    """model.loss as a forward pass, so DistributedDataParallel can wrap it."""

    def __init__(self, model: WorldModel, k: int, proprio_weight: float):
        super().__init__()
        self.model, self.k, self.w = model, k, proprio_weight

    def forward(self, z: torch.Tensor, s: torch.Tensor, a: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.loss(z, s, a, self.k, self.w)


def init_model(cfg: Config, episodes: list[Episode]) -> WorldModel:
    """Seeded weights, normalisation from the training rows, projection from their latent changes."""
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
    model = WorldModel(cfg.model)
    model.set_stats(*training_rows(episodes))
    dz = np.concatenate([np.diff(np.asarray(e.z, np.float32), axis=0) for e in episodes if len(e) > 1])
    pick = np.random.default_rng(cfg.train.seed).permutation(len(dz))[:PCA_ROWS]
    model.init_projection(torch.from_numpy(dz[np.sort(pick)]))
    return model


def eval_batch(episodes: list[Episode], cfg: Config) -> dict[str, torch.Tensor] | None:
    """Held-out windows of context + max(eval_k) steps (at most EVAL_WINDOWS), or None when too short."""
    try:
        windows = Windows(episodes, cfg.model.context + max(cfg.train.eval_k))
    except ValueError:
        return None
    keep = np.linspace(0, len(windows) - 1, min(EVAL_WINDOWS, len(windows))).round().astype(int)
    items = [windows[i] for i in sorted(set(keep.tolist()))]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def train(
    cfg: Config,
    episodes: list[Episode],
    held_out: list[Episode],
    out_dir: str | Path,
    meta: dict[str, Any],
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
) -> WorldModel:
    """Train a WorldModel on windows of `episodes`, log k-step errors on `held_out`, write out_dir.

    `stop_after` ends this invocation at that step (as if killed after a checkpoint); a later call
    with resume=True continues from out_dir/checkpoint.pt with identical state.
    """
    tc, mc = cfg.train, cfg.model
    env = setup_distributed(tc.device)
    out = Path(out_dir)
    ckpt = out / CHECKPOINT
    if ckpt.exists() and not resume:
        raise FileExistsError(f"{ckpt} exists: pass resume=True (--resume) or pick another out dir")
    model = init_model(cfg, episodes).to(env.device)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(tc))  # type: ignore[arg-type]  # same fields
    step = load_checkpoint(ckpt, cfg, model, opt, sched) if ckpt.exists() else 0
    net: nn.Module = Loss(model, tc.rollout, tc.proprio_weight)
    if env.world > 1:
        net = DistributedDataParallel(net, device_ids=[env.device.index] if env.device.type == "cuda" else None)

    data = Windows(episodes, mc.context + 1)
    sampler, per_epoch = epoch_sampler(data, env, tc.batch_size, tc.seed, "windows")
    lead = env.rank == 0
    metrics = None
    val = eval_batch(held_out, cfg) if lead and tc.eval_every else None
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        metrics = MetricsLog(out / "metrics.jsonl", resume_step=step if resume else None)
        if tc.eval_every and val is None:
            log.warning("no held-out episode has %d steps: k-step evaluation off", mc.context + max(tc.eval_k))

    end = tc.steps if stop_after is None else min(tc.steps, stop_after)
    bar = tqdm(total=tc.steps, initial=step, disable=not (lead and progress), desc="world model")
    start_time, start_step = time.monotonic(), step
    while step < end:
        epoch, offset = divmod(step, per_epoch)
        sampler.set_epoch(epoch)  # same permutation on resume: position = step within epoch
        order = list(sampler)[offset * tc.batch_size : per_epoch * tc.batch_size]
        for batch in DataLoader(data, tc.batch_size, sampler=order, pin_memory=env.device.type == "cuda"):
            z, s, a = (batch[k].to(env.device, non_blocking=True) for k in ("z", "proprio", "action"))
            with autocast(env.device, tc.precision):
                terms = net(z, s, a)  # z [B, T, tokens, D], s [B, T, S], a [B, T, A]
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if tc.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            if step % tc.log_every == 0 or step == end:
                row = {k: _mean_over_ranks(v.detach(), env.world) for k, v in terms.items()}
                row |= {"lr": opt.param_groups[0]["lr"]}
                row["windows_per_s"] = (step - start_step) * tc.batch_size * env.world / (time.monotonic() - start_time)
                if metrics is not None:
                    metrics.write({"step": step, **row})
                bar.set_postfix(loss=f"{row['loss']:.4f}")
            if val is not None and metrics is not None and (step % tc.eval_every == 0 or step == tc.steps):
                errs = kstep_errors(model.eval(), val, mc.context, tc.eval_k)  # moves val to the model's device
                model.train()
                metrics.write({"step": step, **errs})
                log.info("step %d held-out k-step L1: %s", step, {k: round(v, 4) for k, v in errs.items()})
            if step % tc.ckpt_every == 0 or step == end:
                if lead:
                    save_checkpoint(ckpt, step, cfg, model, opt, sched, meta)
                if metrics is not None:
                    plot_metrics(metrics.rows(), out / "metrics.png", PANELS)
            if step >= end:
                break
    bar.close()
    if env.owns_group:
        dist.destroy_process_group()
    return model.eval()


def _mean_over_ranks(x: torch.Tensor, world: int) -> float:
    if world > 1:
        x = x.clone()
        dist.all_reduce(x)
        x /= world
    return float(x)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: `amibot train world-model ...` (also `python -m agent.world_model.train ...`)."""
    p = argparse.ArgumentParser(prog="amibot train world-model", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, action="append", help="LeRobot dataset root (repeatable)")
    p.add_argument("--encoder", required=True, type=Path, help="the encoder whose cached latents to use")
    p.add_argument("--config", required=True, type=Path, help="configs/models/world_model_*.yaml")
    p.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/NAME")
    p.add_argument("--steps", type=int, help="override train.steps (total, sets the schedule)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
        if args.steps is not None:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=args.steps))
        episodes, layout = load_episodes(args.data, args.encoder)
        check_interface(
            cfg.model,
            f"config {args.config}",
            latent=(layout.tokens, layout.dim, f"encoder {args.encoder}"),
            proprio=(len(layout.state_names), f"dataset {args.data[0]} proprio {layout.state_names}"),
            action=(len(layout.action_names), f"dataset {args.data[0]} robot command {layout.action_names}"),
        )
    except (OSError, ValueError, CacheError) as e:
        p.error(str(e))
    train_eps, held_out = split_episodes(episodes, cfg.train.held_out, cfg.train.seed)
    meta = {
        "encoder": str(args.encoder),
        "encoder_sha256": file_sha256(args.encoder),
        "state_names": layout.state_names,
        "action_names": layout.action_names,
        "data": [str(d) for d in args.data],
        "held_out": [e.name for e in held_out],
    }
    log.info("%d training episodes, %d held out", len(train_eps), len(held_out))
    train(cfg, train_eps, held_out, args.out, meta, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())

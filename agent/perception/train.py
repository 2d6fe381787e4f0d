"""Encoder training: `amibot train encoder --data DIR --config FILE --out runs/NAME`.

V-JEPA loop (multi-block tube masks, L1 to layer-normed EMA target features), AdamW with
warmup + cosine, checkpoints that resume exactly, metrics + collapse watch; torchrun-ready (DDP).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from agent.perception.baselines import pca_probe_r2
from agent.perception.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from agent.perception.clips import open_clips
from agent.perception.collapse import ProbeSet, collapse_report, describe_r2, warn_if_collapsed
from agent.perception.config import Config, EncoderConfig, TrainConfig, load_config
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.metrics import MetricsLog, plot_metrics
from agent.perception.model import VJEPA

log = logging.getLogger(__name__)


def lr_factor(tc: TrainConfig) -> Callable[[int], float]:
    """LambdaLR factor: linear warmup to tc.lr, then cosine decay to tc.min_lr at tc.steps."""

    def factor(step: int) -> float:
        if step < tc.warmup_steps:
            return (step + 1) / tc.warmup_steps
        progress = min(1.0, (step - tc.warmup_steps) / max(1, tc.steps - tc.warmup_steps))
        lr = tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * progress))
        return lr / tc.lr

    return factor


def ema_momentum(tc: TrainConfig, step: int) -> float:
    """Target EMA momentum, linear from ema_start to ema_end over training."""
    return tc.ema_start + (tc.ema_end - tc.ema_start) * min(1.0, step / tc.steps)


def weight_decay(tc: TrainConfig, step: int) -> float:
    """Cosine schedule from weight_decay to weight_decay_end."""
    progress = min(1.0, step / tc.steps)
    end, start = tc.weight_decay_end, tc.weight_decay
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * progress))


def param_groups(model: VJEPA, wd: float) -> list[dict]:
    """Trainable params; weight decay only on matrices (not biases, norms, pos, mask tokens)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = p.ndim < 2 or name.endswith(("pos", "mask_tokens"))
        (no_decay if plain else decay).append(p)
    return [
        {"params": decay, "weight_decay": wd, "decay": True},
        {"params": no_decay, "weight_decay": 0.0, "decay": False},
    ]


@dataclass
class DistInfo:
    rank: int
    world: int
    device: torch.device
    owns_group: bool  # True when train() created the process group and must destroy it


def setup_distributed(device: str = "auto") -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 and pick this process's device.

    device (train.device): "cpu" (gloo), "cuda" (nccl, cuda:LOCAL_RANK) or "auto" (cuda when torch sees one).
    """
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda and local >= torch.cuda.device_count():
        raise ValueError(
            f"train.device={device!r}: process LOCAL_RANK {local} but torch sees {torch.cuda.device_count()} "
            "CUDA device(s); start at most that many processes per node or set train.device: cpu"
        )
    owns = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
        owns = True
    on = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if on else (0, 1)
    dev = torch.device("cpu")
    if cuda:
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    return DistInfo(rank, world, dev, owns)


def epoch_sampler(
    data: Dataset, env: DistInfo, batch_size: int, seed: int, what: str
) -> tuple[DistributedSampler, int]:
    """This rank's shuffled share of `data` and the number of full batches per epoch (error if none)."""
    sampler = DistributedSampler(data, num_replicas=env.world, rank=env.rank, shuffle=True, seed=seed, drop_last=True)
    per_epoch = len(sampler) // batch_size
    if per_epoch == 0:
        raise ValueError(f"{len(data)} {what} over {env.world} ranks < batch_size {batch_size}")  # type: ignore[arg-type]
    return sampler, per_epoch


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast on `device` when precision is "bf16" (weights, optimizer and EMA stay fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def train_step(
    net: nn.Module,
    model: VJEPA,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    masks: MaskSampler,
    clip: Tensor,
    step: int,
    tc: TrainConfig,
) -> Tensor:
    """One update: loss on clip [B, T, 3, H, W], AdamW step, scheduler step, EMA target step."""
    for group in opt.param_groups:
        if group["decay"]:
            group["weight_decay"] = weight_decay(tc, step)
    pairs = [(c.to(clip.device), t.to(clip.device)) for c, t in masks(clip.shape[0])]
    with autocast(clip.device, tc.precision):
        loss = net(clip, pairs)  # net is model, its DDP wrapper or their torch.compile
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if tc.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
    opt.step()
    sched.step()
    model.update_target(ema_momentum(tc, step))
    return loss.detach()


def _mean_over_ranks(x: Tensor, world: int) -> float:
    if world > 1:
        x = x.clone()
        dist.all_reduce(x)
        x /= world
    return float(x)


def embed_width(e: EncoderConfig) -> int:
    """Length of a flattened model.embed output: H' * W' * D."""
    _, h, w = e.grid
    return h * w * e.dim


def _probe(model: VJEPA, probe: ProbeSet, device: torch.device, batch: int = 64) -> Tensor:
    """Flattened embeddings [M, H'*W'*D] (model.embed) of the probe clips."""
    parts = [model.embed(c.to(device)).flatten(1).cpu() for c in probe.clips.split(batch)]
    return torch.cat(parts)


def train(
    cfg: Config,
    data: Dataset,
    out_dir: str | Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
) -> VJEPA:
    """Train a VJEPA on `data` (items: clip [T, 3, H, W], state [S], episode), writing to out_dir.

    `stop_after` ends this invocation early at that step (as if killed after a checkpoint);
    a later call with resume=True continues from out_dir/checkpoint.pt with identical state.
    """
    tc = cfg.train
    env = setup_distributed(tc.device)
    out = Path(out_dir)
    ckpt = out / CHECKPOINT
    if ckpt.exists() and not resume:
        raise FileExistsError(f"{ckpt} exists: pass resume=True (--resume) or pick another out dir")
    torch.manual_seed(tc.seed)  # identical initial weights on every rank
    model = VJEPA(cfg.encoder).to(env.device)
    opt = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(tc))
    masks = MaskSampler(cfg.encoder.grid, mask_specs(tc), seed=tc.seed + env.rank)
    step = load_checkpoint(ckpt, model, opt, sched, masks, env.rank) if ckpt.exists() else 0
    net: nn.Module = model
    if env.world > 1:
        ids = [env.device.index] if env.device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids)
    if tc.compile:
        net = torch.compile(net)

    sampler, per_epoch = epoch_sampler(data, env, tc.batch_size, tc.seed, "clips")
    lead = env.rank == 0
    metrics = probe = None
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        metrics = MetricsLog(out / "metrics.jsonl", resume_step=step if resume else None)
        if tc.probe_every:
            probe = ProbeSet.from_dataset(data, tc.probe_clips)
            width = embed_width(cfg.encoder)
            pca_r2 = pca_probe_r2(probe, width)
            log.info("probe baseline: PCA-of-pixels (dim %d) R2 %s", width, describe_r2(pca_r2))

    end = tc.steps if stop_after is None else min(tc.steps, stop_after)
    bar = tqdm(total=tc.steps, initial=step, disable=not (lead and progress), desc="encoder")
    start_time, start_step = time.monotonic(), step
    while step < end:
        epoch, offset = divmod(step, per_epoch)
        sampler.set_epoch(epoch)  # same permutation on resume: position = step within epoch
        order = list(sampler)[offset * tc.batch_size : per_epoch * tc.batch_size]
        loader = DataLoader(
            data, tc.batch_size, sampler=order, num_workers=tc.workers, pin_memory=env.device.type == "cuda"
        )
        for batch in loader:
            clip = batch["clip"].to(env.device, non_blocking=True)  # [B, T, 3, H, W]
            loss = train_step(net, model, opt, sched, masks, clip, step, tc)
            step += 1
            bar.update(1)
            if step % tc.log_every == 0 or step == end:
                row = {
                    "step": step,
                    "loss": _mean_over_ranks(loss, env.world),
                    "lr": opt.param_groups[0]["lr"],
                    "momentum": ema_momentum(tc, step),
                    "clips_per_s": (step - start_step) * tc.batch_size * env.world / (time.monotonic() - start_time),
                }
                if metrics is not None:
                    metrics.write(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
            if probe is not None and (step % tc.probe_every == 0 or step == tc.steps):
                report = collapse_report(_probe(model, probe, env.device), probe)
                warn_if_collapsed(report, tc.collapse_std, tc.collapse_rank)
                metrics.write({"step": step, **report, "pca_probe_r2": pca_r2})
                log.info(
                    "step %d collapse watch: emb_std %.4f, eff_rank %.2f, probe_r2 %s (PCA %s)",
                    step,
                    report["emb_std"],
                    report["eff_rank"],
                    describe_r2(report["probe_r2"]),
                    describe_r2(pca_r2),
                )
            if step % tc.ckpt_every == 0 or step == end:
                save_checkpoint(ckpt, step, cfg, model, opt, sched, masks, env.rank)
                if metrics is not None:
                    plot_metrics(metrics.rows(), out / "metrics.png")
            if step >= end:
                break
    bar.close()
    if env.owns_group:
        dist.destroy_process_group()
    return model


def main(argv: list[str] | None = None) -> int:
    """CLI entry: `amibot train encoder ...` (also `python -m agent.perception.train ...`)."""
    p = argparse.ArgumentParser(prog="amibot train encoder", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="LeRobot dataset (amibot record) or .npz episodes dir")
    p.add_argument("--config", required=True, type=Path, help="configs/models/encoder_*.yaml")
    p.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/NAME")
    p.add_argument("--steps", type=int, help="override train.steps (total, sets the schedules)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--camera", help="camera of a LeRobot dataset, e.g. front (default: its first video key)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
        if args.steps is not None:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=args.steps))
    except (OSError, ValueError) as e:
        p.error(str(e))
    e = cfg.encoder
    try:
        data = open_clips(args.data, e.frames, img_size=e.img_size, frame_step=cfg.train.frame_step, camera=args.camera)
    except ValueError as exc:
        p.error(str(exc))
    train(cfg, data, args.out, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())

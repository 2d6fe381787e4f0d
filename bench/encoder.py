"""Encoder benchmark: node encode path and training step against plain torch, and training speed of a
precision/compile setting against fp32 eager, all in the same run.

    .venv/bin/python bench/encoder.py [--config configs/models/encoder_tiny.yaml] [--threads 1]
    .venv/bin/python bench/encoder.py --config configs/models/encoder_small.yaml --device cuda \
        --precision bf16 [--compile] --peak-tflops 989

Prints per-call medians and ratios (node path / plain torch: target <= 1.10; setting / fp32 eager),
the setting's step time by phase, and achieved model FLOP/s (analytic count, against --peak-tflops).
Rounds of two loops are interleaved so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from agent.perception.config import PRECISIONS, Config, EncoderConfig, TrainConfig, load_config
from agent.perception.inference import ClipEncoder
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA
from agent.perception.train import autocast, ema_momentum, lr_factor, param_groups, train_step

CPU = torch.device("cpu")
WARMUP_STEPS = 10  # training steps per side before timing: the first steps are slower (allocator, caches)


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], reps: int, device: torch.device = CPU) -> float:
    """Median seconds per call of fn over reps calls."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    ours: Callable[[], object],
    plain: Callable[[], object],
    rounds: int,
    reps: int,
    warmup: int = 3,
    device: torch.device = CPU,
) -> tuple[float, float]:
    """Interleaved rounds of both, the order swapped every round (a machine that speeds up or slows
    down over the run would otherwise favour whichever goes second); median of per-round medians."""
    for fn in (ours, plain):
        timed(fn, warmup, device)
    a, b = [], []
    for r in range(rounds):
        if r % 2:
            b.append(timed(plain, reps, device))
            a.append(timed(ours, reps, device))
        else:
            a.append(timed(ours, reps, device))
            b.append(timed(plain, reps, device))
    return statistics.median(a), statistics.median(b)


def bench_encode(model: VJEPA, frame_step: int, rounds: int, reps: int, device: torch.device) -> tuple[float, float]:
    """One observation through ClipEncoder (push + encode) vs target(clip).mean(1) on a ready tensor."""
    size = model.cfg.img_size
    enc = ClipEncoder(model, frame_step, str(device))
    frame = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    for _ in range(enc.span):
        enc.push(frame, 0)
    clip = enc.clip()

    def ours() -> None:
        enc.push(frame, 0)
        enc.encode()

    @torch.inference_mode()
    def plain() -> None:
        model.target(clip).mean(1)

    return compare(ours, plain, rounds, reps, device=device)


def bench_train(model: VJEPA, cfg: Config, rounds: int, reps: int, device: torch.device) -> tuple[float, float]:
    """train_step (masks, schedules, clipping, EMA) vs a plain loss/backward/AdamW loop over the same masks,
    both fp32 eager: what the training loop costs on top of the model's own work."""
    tc = dataclasses.replace(cfg.train, precision="fp32")
    e = model.cfg
    clip = torch.rand(tc.batch_size, e.frames, 3, e.img_size, e.img_size, device=device)
    opt = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(tc))
    masks = MaskSampler(e.grid, mask_specs(tc), seed=0)
    # The plain loop gets the same mask sequence, sampled ahead of time: the same tokens to compute
    # (one fixed mask would make the comparison depend on how many tokens that one draw holds).
    ahead = MaskSampler(e.grid, mask_specs(tc), seed=0)
    plain_masks = [
        [(c.to(device), t.to(device)) for c, t in ahead(tc.batch_size)] for _ in range(WARMUP_STEPS + rounds * reps)
    ]
    plain_step = 0
    plain_opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=tc.lr)
    step = 0

    def ours() -> None:
        nonlocal step
        train_step(model, model, opt, sched, masks, clip, step, tc)
        step += 1

    def plain() -> None:
        nonlocal plain_step
        loss = model.loss(clip, plain_masks[plain_step])
        plain_step += 1
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        plain_opt.step()

    per_step = compare(ours, plain, rounds, reps, warmup=WARMUP_STEPS, device=device)
    return tc.batch_size / per_step[0], tc.batch_size / per_step[1]


class Trainer:
    """One seeded model with its optimizer, schedule and masks, stepping train_step on a fixed batch."""

    def __init__(self, cfg: Config, tc: TrainConfig, device: torch.device, compiled: bool):
        torch.manual_seed(0)
        self.model = VJEPA(cfg.encoder).to(device).train()
        self.net = torch.compile(self.model) if compiled else self.model
        self.opt = torch.optim.AdamW(param_groups(self.model, tc.weight_decay), lr=tc.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_factor(tc))
        self.masks = MaskSampler(cfg.encoder.grid, mask_specs(tc), seed=0)
        e = cfg.encoder
        self.clip = torch.rand(tc.batch_size, e.frames, 3, e.img_size, e.img_size, device=device)
        self.tc, self.step_no = tc, 0

    def step(self) -> None:
        train_step(self.net, self.model, self.opt, self.sched, self.masks, self.clip, self.step_no, self.tc)
        self.step_no += 1


def bench_speed(cfg: Config, setting: Trainer, rounds: int, reps: int, device: torch.device) -> tuple[float, float]:
    """Training clips/s of `setting` and of fp32 eager on the same device, interleaved."""
    base = Trainer(cfg, dataclasses.replace(cfg.train, precision="fp32"), device, compiled=False)
    per_step = compare(setting.step, base.step, rounds, reps, warmup=WARMUP_STEPS, device=device)
    return cfg.train.batch_size / per_step[0], cfg.train.batch_size / per_step[1]


def breakdown(t: Trainer, steps: int, device: torch.device) -> dict[str, float]:
    """Median ms per phase of a training step (train_step's work, split by GPU syncs)."""
    tc, m = t.tc, t.model
    host = t.clip.cpu().pin_memory() if device.type == "cuda" else t.clip.cpu()
    times: dict[str, list[float]] = {
        k: [] for k in ("batch to device", "masks", "forward", "backward", "optimizer+EMA")
    }
    for _ in range(steps):
        marks = [time.perf_counter()]
        clip = host.to(device, non_blocking=True)
        sync(device)
        marks.append(time.perf_counter())
        pairs = [(c.to(device), x.to(device)) for c, x in t.masks(clip.shape[0])]
        sync(device)
        marks.append(time.perf_counter())
        with autocast(device, tc.precision):
            loss = t.net(clip, pairs)
        sync(device)
        marks.append(time.perf_counter())
        t.opt.zero_grad(set_to_none=True)
        loss.backward()
        sync(device)
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(m.parameters(), tc.grad_clip)
        t.opt.step()
        t.sched.step()
        m.update_target(ema_momentum(tc, t.step_no))
        sync(device)
        marks.append(time.perf_counter())
        for key, a, b in zip(times, marks, marks[1:], strict=False):
            times[key].append(b - a)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def block_flops(n: int, d: int, mlp_ratio: float) -> float:
    """Forward FLOPs of one transformer block on n tokens of width d: qkv, proj, MLP, QK^T and AV."""
    return 2 * n * d * d * (4 + 2 * mlp_ratio) + 4 * n * n * d


def step_flops(e: EncoderConfig, tc: TrainConfig, draws: int = 20) -> float:
    """Model FLOPs of one training step (matmuls, convolution, attention; backward = 2x forward for the
    trained parts, target encoder forward only), averaged over `draws` mask samples."""
    n, d, dp = e.num_tokens, e.dim, e.pred_dim
    patch = 2 * n * 3 * e.tubelet * e.patch**2 * d  # Conv3d tubelet embedding of the whole clip
    total = (patch + e.depth * block_flops(n, d, e.mlp_ratio)) * tc.batch_size * draws  # target encoder
    masks = MaskSampler(e.grid, mask_specs(tc), seed=0)
    for _ in range(draws):
        for ctx, tgt in masks(tc.batch_size):
            nc, nt = ctx.shape[1], tgt.shape[1]
            enc = patch + e.depth * block_flops(nc, d, e.mlp_ratio)
            pred = 2 * nc * d * dp + e.pred_depth * block_flops(nc + nt, dp, e.mlp_ratio) + 2 * nt * dp * d
            total += 3 * (enc + pred) * tc.batch_size
    return total / draws


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/models/encoder_tiny.yaml")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=PRECISIONS, help="setting timed against fp32 eager (default: the config's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the setting's model")
    p.add_argument(
        "--peak-tflops", type=float, help="the chip's peak TFLOP/s at that precision (e.g. 989 for H200 bf16 dense)"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(args.config)
    tc = dataclasses.replace(cfg.train, precision=args.precision or cfg.train.precision)
    torch.manual_seed(0)
    model = VJEPA(cfg.encoder).to(device)
    e = cfg.encoder
    print(
        f"{args.config}: {e.img_size}px, {e.frames} frames, {e.num_tokens} tokens, dim {e.dim}, "
        f"depth {e.depth}, batch {tc.batch_size}, {args.threads} thread(s), device {device}"
    )
    ours, plain = bench_encode(model.eval(), tc.frame_step, args.rounds, 20, device)
    print(
        f"encode one observation: node path {ours * 1e3:.2f} ms, plain torch {plain * 1e3:.2f} ms, "
        f"ratio {ours / plain:.3f}"
    )
    ours, plain = bench_train(model.train(), cfg, args.rounds, 5, device)
    print(
        f"training: train_step {ours:.1f} clips/s, plain torch {plain:.1f} clips/s, overhead ratio {plain / ours:.3f}"
    )
    del model
    name = tc.precision + (" + compile" if args.compile else " eager")
    setting = Trainer(cfg, tc, device, args.compile)
    fast, base = bench_speed(cfg, setting, args.rounds, 5, device)
    print(f"training speed: {name} {fast:.1f} clips/s, fp32 eager {base:.1f} clips/s, ratio {fast / base:.3f}")
    phases = breakdown(setting, 5 * args.rounds, device)
    print(f"{name} step, median ms: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    flops = step_flops(e, tc)
    achieved, achieved_base = (flops * rate / tc.batch_size / 1e12 for rate in (fast, base))  # TFLOP/s
    line = f"model FLOPs per step (analytic) {flops / 1e9:.2f} G; achieved {name} {achieved:.3f} TFLOP/s, "
    line += f"fp32 eager {achieved_base:.3f} TFLOP/s"
    if args.peak_tflops:
        line += f" ({100 * achieved / args.peak_tflops:.1f}% of {args.peak_tflops:g} peak)"
    print(line)


if __name__ == "__main__":
    main()

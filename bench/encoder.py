"""Encoder benchmark: node encode path and training step, each against plain torch in the same run.

    .venv/bin/python bench/encoder.py [--config configs/models/encoder_tiny.yaml] [--threads 1]

Prints per-call medians and the ratio ours / plain torch (target <= 1.10). Rounds of the two
loops are interleaved so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from agent.perception.config import load_config
from agent.perception.inference import ClipEncoder
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA
from agent.perception.train import lr_factor, param_groups, train_step

WARMUP_STEPS = 10  # training steps per side before timing: the first steps are slower (allocator, caches)


def timed(fn: Callable[[], object], reps: int) -> float:
    """Median seconds per call of fn over reps calls."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    ours: Callable[[], object], plain: Callable[[], object], rounds: int, reps: int, warmup: int = 3
) -> tuple[float, float]:
    """Interleaved rounds of both, the order swapped every round (a machine that speeds up or slows
    down over the run would otherwise favour whichever goes second); median of per-round medians."""
    for fn in (ours, plain):
        timed(fn, warmup)
    a, b = [], []
    for r in range(rounds):
        if r % 2:
            b.append(timed(plain, reps))
            a.append(timed(ours, reps))
        else:
            a.append(timed(ours, reps))
            b.append(timed(plain, reps))
    return statistics.median(a), statistics.median(b)


def bench_encode(model: VJEPA, frame_step: int, rounds: int, reps: int) -> tuple[float, float]:
    """One observation through ClipEncoder (push + encode) vs target(clip).mean(1) on a ready tensor."""
    size = model.cfg.img_size
    enc = ClipEncoder(model, frame_step)
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

    return compare(ours, plain, rounds, reps)


def bench_train(model: VJEPA, cfg_path: str, rounds: int, reps: int) -> tuple[float, float]:
    """train_step (masks, schedules, clipping, EMA) vs a plain loss/backward/AdamW loop over the same masks."""
    cfg = load_config(cfg_path)
    tc = cfg.train
    e = model.cfg
    clip = torch.rand(tc.batch_size, e.frames, 3, e.img_size, e.img_size)
    opt = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(tc))
    masks = MaskSampler(e.grid, mask_specs(tc), seed=0)
    # The plain loop gets the same mask sequence, sampled ahead of time: the same tokens to compute
    # (one fixed mask would make the comparison depend on how many tokens that one draw holds).
    ahead = MaskSampler(e.grid, mask_specs(tc), seed=0)
    plain_masks = [ahead(tc.batch_size) for _ in range(WARMUP_STEPS + rounds * reps)]
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

    per_step = compare(ours, plain, rounds, reps, warmup=WARMUP_STEPS)
    return tc.batch_size / per_step[0], tc.batch_size / per_step[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/models/encoder_tiny.yaml")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config(args.config)
    model = VJEPA(cfg.encoder)
    e = cfg.encoder
    print(
        f"{args.config}: {e.img_size}px, {e.frames} frames, {e.num_tokens} tokens, dim {e.dim}, "
        f"depth {e.depth}, batch {cfg.train.batch_size}, {args.threads} thread(s)"
    )
    ours, plain = bench_encode(model.eval(), cfg.train.frame_step, args.rounds, reps=20)
    print(
        f"encode one observation: node path {ours * 1e3:.2f} ms, plain torch {plain * 1e3:.2f} ms, "
        f"ratio {ours / plain:.3f}"
    )
    ours, plain = bench_train(model.train(), args.config, args.rounds, reps=5)
    print(
        f"training: train_step {ours:.1f} clips/s, plain torch {plain:.1f} clips/s, overhead ratio {plain / ours:.3f}"
    )


if __name__ == "__main__":
    main()

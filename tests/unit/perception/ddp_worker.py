"""Run under torchrun by test_ddp.py: DDP gradient vs single-process gradient, then train()."""

import ctypes
import json
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from agent.perception.clips import ClipDataset, synthetic_episodes
from agent.perception.config import config_from_dict
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA
from agent.perception.train import setup_distributed, train

torch.set_num_threads(1)
# Die with the torchrun agent: its workers run in their own sessions and would outlive a killed test.
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
ENC = dict(img_size=32, dim=32, depth=1, heads=2, pred_dim=16, pred_depth=1, pred_heads=2)
# gloo on the CPU whatever the machine has: two processes must not share (or lack) one GPU.
TRAIN = dict(steps=2, batch_size=2, warmup_steps=1, log_every=1, probe_every=2, probe_clips=12, device="cpu")


def main(out: Path) -> None:
    cfg = config_from_dict({"encoder": ENC, "train": TRAIN}, "<ddp test>")
    env = setup_distributed("cpu")
    data = ClipDataset(synthetic_episodes(4, length=6, size=32, seed=0), frames=4)
    clip = torch.stack([data[i]["clip"] for i in range(4)])  # [4, T, 3, H, W], same on all ranks
    masks = MaskSampler(cfg.encoder.grid, mask_specs(cfg.train), seed=0)(4)  # fixed counts
    half = slice(2 * env.rank, 2 * env.rank + 2)

    torch.manual_seed(0)
    model = VJEPA(cfg.encoder)
    ddp = DistributedDataParallel(model)
    ddp(clip[half], [(c[half], t[half]) for c, t in masks]).backward()  # grads averaged

    if env.rank == 0:
        torch.manual_seed(0)
        ref = VJEPA(cfg.encoder)
        ref.loss(clip, masks).backward()  # single process, concatenated batch
        diffs = [
            (a.grad - b.grad).abs().max().item()
            for a, b in zip(model.parameters(), ref.parameters(), strict=True)
            if a.grad is not None
        ]
        nonzero = sum(int(a.grad.abs().sum() > 0) for a in ref.parameters() if a.grad is not None)
        (out / "grad.json").write_text(json.dumps({"max_diff": max(diffs), "nonzero": nonzero}))
    train(cfg, data, out / "run", progress=False)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

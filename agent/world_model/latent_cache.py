"""Latent cache: the frozen encoder's latent of every frame of a dataset, computed once per
dataset and encoder and stored next to the dataset (DIR/latents/<encoder sha256[:16]>.npy + .json).

Each row is what the perception node publishes online at that step (ClipEncoder: the clip of the
last frames of the episode, the first frame repeated until the buffer fills), stored as float16
[N, tokens, D] in the dataset's global frame order. Training refuses a stale or mismatched cache.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from agent.data import layout as L
from agent.data.reader import Dataset
from agent.perception.checkpoint import load_model
from agent.perception.clips import square_frames
from agent.perception.config import config_from_dict
from agent.perception.model import VJEPA

CACHE_DIR = "latents"
CAMERA = "head"  # the camera the perception node encodes
VERSION = 1


class CacheError(ValueError):
    """No usable latent cache: missing, made by another encoder, or older than the dataset."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (the encoder checkpoint's identity)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_fingerprint(root: Path) -> str:
    """Hex sha256 of meta/info.json and the episode table: changes whenever episodes change."""
    h = hashlib.sha256()
    for rel in (L.INFO_PATH, L.EPISODES_PATH):
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def cache_paths(root: Path, encoder_sha: str) -> tuple[Path, Path]:
    """(latents .npy, metadata .json) of one encoder's cache in dataset `root`."""
    stem = root / CACHE_DIR / encoder_sha[:16]
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def clip_index(length: int, span: int, frame_step: int) -> torch.Tensor:
    """Frame indices [length, T] of the clip the online encoder sees at each step of an episode."""
    t = torch.arange(length)[:, None] - (span - 1) + torch.arange(span)[None]  # [L, span]
    return t.clamp(min=0)[:, ::frame_step]  # before the buffer fills, frame 0 repeats (ClipEncoder.clip)


@torch.inference_mode()
def encode_episode(model: VJEPA, frames: np.ndarray, frame_step: int, batch: int = 64) -> np.ndarray:
    """Latents float32 [L, tokens, D] of uint8 frames [L, H, W, 3], step by step as ClipEncoder."""
    cfg = model.cfg
    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255.0  # [L, 3, H, W]
    x = square_frames(x, cfg.img_size)  # as the perception node and encoder training crop and resize
    idx = clip_index(len(x), (cfg.frames - 1) * frame_step + 1, frame_step)  # [L, T]
    out = [model.embed(x[rows]).cpu() for rows in idx.split(batch)]  # each [b, tokens, D], run on the model's device
    return torch.cat(out).numpy()


def _meta(root: Path, encoder: Path, sha: str, model: VJEPA, frame_step: int, n: int) -> dict[str, Any]:
    _, h, w = model.cfg.grid
    return {
        "version": VERSION,
        "encoder": str(encoder),
        "encoder_sha256": sha,
        "dataset_fingerprint": dataset_fingerprint(root),
        "frames": n,
        "tokens": h * w,
        "dim": model.cfg.dim,
        "frame_step": frame_step,
        "camera": CAMERA,
        "dtype": "float16",
    }


def encode_dataset(root: str | Path, encoder: str | Path, progress: bool = True) -> Path:
    """Compute and store the latent cache of `root` for `encoder`; returns the .npy path."""
    root, encoder = Path(root), Path(encoder)
    sha = file_sha256(encoder)
    model = load_model(encoder).float().eval()
    state = torch.load(encoder, map_location="cpu", weights_only=True, mmap=True)
    frame_step = config_from_dict(state["config"], str(encoder)).train.frame_step  # as the node's clips
    ds = Dataset(root)
    key = L.video_key(CAMERA)
    if key not in ds.video_keys:
        raise CacheError(f"{root}: no camera {CAMERA!r} (videos: {ds.video_keys})")
    n = int(ds.info["total_frames"])
    npy, meta_path = cache_paths(root, sha)
    npy.parent.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)  # no metadata = no cache while the rows are rewritten
    tmp = L.tmp_path(npy)
    _, h, w = model.cfg.grid
    rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n, h * w, model.cfg.dim))
    for ep in tqdm(range(len(ds)), disable=not progress, desc=f"encode {root.name}"):
        row = ds.episodes[ep]
        lo, hi = row["dataset_from_index"], row["dataset_to_index"]
        rows[lo:hi] = encode_episode(model, ds.frames(key, ep), frame_step)
    rows.flush()
    del rows
    os.replace(tmp, npy)
    meta_path.write_text(json.dumps(_meta(root, encoder, sha, model, frame_step, n), indent=2))
    return npy


def load_latents(root: str | Path, encoder: str | Path) -> np.ndarray:
    """The cached latents float16 [N, tokens, D] (a memmap) of `root` for `encoder`.

    Raises CacheError when there is none, when it was made by another encoder file, or when the
    dataset changed after it was made; the message names both sides and the command that fixes it.
    """
    root, encoder = Path(root), Path(encoder)
    sha = file_sha256(encoder)
    npy, meta_path = cache_paths(root, sha)
    fix = f"run: amibot encode --data {root} --encoder {encoder}"
    if not meta_path.exists():
        have = sorted(p.name for p in (root / CACHE_DIR).glob("*.json")) if (root / CACHE_DIR).exists() else []
        made_by = [json.loads((root / CACHE_DIR / n).read_text()).get("encoder", "?") for n in have]
        raise CacheError(
            f"{root}: no latent cache for encoder {encoder} (sha256 {sha[:16]}); caches there: "
            f"{[f'{n} from {e}' for n, e in zip(have, made_by, strict=True)] or 'none'}; {fix}"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("encoder_sha256") != sha:
        raise CacheError(
            f"{meta_path}: made by encoder {meta.get('encoder')} (sha256 {str(meta.get('encoder_sha256'))[:16]}), "
            f"not by {encoder} (sha256 {sha[:16]}); {fix}"
        )
    now = dataset_fingerprint(root)
    if meta.get("dataset_fingerprint") != now:
        total = json.loads((root / L.INFO_PATH).read_text())["total_frames"]
        raise CacheError(
            f"{meta_path} is stale: made for dataset {root} with {meta.get('frames')} frames "
            f"(fingerprint {str(meta.get('dataset_fingerprint'))[:16]}), the dataset now has {total} frames "
            f"(fingerprint {now[:16]}); {fix}"
        )
    latents = np.load(npy, mmap_mode="r")
    if latents.shape != (meta["frames"], meta["tokens"], meta["dim"]):
        raise CacheError(f"{npy}: shape {latents.shape} differs from its metadata {meta_path}; {fix}")
    return latents


def main(argv: list[str] | None = None) -> int:
    """`amibot encode --data DIR [--data DIR2 ...] --encoder models/X.pt`: fill missing or stale caches."""
    p = argparse.ArgumentParser(prog="amibot encode", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, action="append", help="LeRobot dataset root (repeatable)")
    p.add_argument("--encoder", required=True, type=Path, help="encoder checkpoint, e.g. models/encoder_tiny_sim.pt")
    args = p.parse_args(argv)
    if not args.encoder.is_file():
        p.error(f"--encoder {args.encoder}: no such file")
    for root in args.data:
        if not (root / L.INFO_PATH).exists():
            p.error(f"--data {root}: not a dataset (no {L.INFO_PATH})")
        try:
            latents = load_latents(root, args.encoder)
            print(f"{root}: latent cache up to date ({len(latents)} frames)")
            continue
        except CacheError as exc:
            print(f"{root}: encoding ({exc.args[0].split(';')[0]})")
        npy = encode_dataset(root, args.encoder)
        print(f"{root}: wrote {npy} ({npy.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Latent cache: rows equal what the perception node publishes step by step; stale or foreign caches are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.data.reader import Dataset
from agent.perception.inference import ClipEncoder
from agent.world_model.latent_cache import CacheError, encode_dataset, load_latents, main
from tests.unit.data.helpers import make_dataset
from tests.unit.world_model.conftest import save_encoder


def test_cache_matches_online_encoder_step_by_step(dataset: Path, encoder: Path) -> None:
    encode_dataset(dataset, encoder, progress=False)
    latents = load_latents(dataset, encoder)
    ds = Dataset(dataset)
    assert latents.shape == (18, 16, 16) and latents.dtype == np.float16  # [frames, tokens, D]
    online = ClipEncoder.from_checkpoint(encoder, frame_step=2)  # what the perception node runs
    for ep in range(len(ds)):
        lo = ds.episodes[ep]["dataset_from_index"]
        for t, frame in enumerate(ds.frames("observation.images.head", ep)):
            online.push(np.array(frame), episode=ep)
            want = online.encode()  # [tokens * D] float32
            np.testing.assert_allclose(latents[lo + t].astype(np.float32).ravel(), want, rtol=2e-3, atol=2e-3)


def test_missing_foreign_and_stale_caches_are_refused(dataset: Path, encoder: Path, tmp_path: Path) -> None:
    with pytest.raises(CacheError, match=r"no latent cache for encoder .*enc\.pt.*amibot encode"):
        load_latents(dataset, encoder)
    encode_dataset(dataset, encoder, progress=False)
    other = save_encoder(tmp_path / "other.pt", seed=1)
    with pytest.raises(CacheError, match=r"no latent cache for encoder .*other\.pt.*from .*enc\.pt"):
        load_latents(dataset, other)
    # metadata that names another encoder (a cache copied under the wrong name): both named
    meta_path = next((dataset / "latents").glob("*.json"))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "encoder": "models/old.pt", "encoder_sha256": "ab" * 32}))
    with pytest.raises(CacheError, match=r"made by encoder models/old\.pt \(sha256 abab.*not by .*enc\.pt"):
        load_latents(dataset, encoder)
    meta_path.write_text(json.dumps(meta))
    load_latents(dataset, encoder)
    # episodes appended after the cache was made: stale, both frame counts named
    make_dataset(tmp_path / "bigger", [9, 3, 6, 4])
    for name in ("meta/info.json", "meta/episodes/chunk-000/file-000.parquet"):
        (dataset / name).write_bytes((tmp_path / "bigger" / name).read_bytes())
    with pytest.raises(CacheError, match=r"stale: made for dataset .* with 18 frames.* now has 22 frames"):
        load_latents(dataset, encoder)


def test_cli_encodes_once(dataset: Path, encoder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(dataset), "--encoder", str(encoder)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["--data", str(dataset), "--encoder", str(encoder)]) == 0
    assert "latent cache up to date (18 frames)" in capsys.readouterr().out

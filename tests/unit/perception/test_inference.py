"""ClipEncoder: per-episode frame buffer, padding before it fills, frame_step, output shape."""

import numpy as np
import pytest
import torch

from agent.perception.config import EncoderConfig
from agent.perception.inference import ClipEncoder, encoder_mismatch
from agent.perception.model import VJEPA


def frame(value: int, size: int = 40) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


def test_buffer_pads_resets_and_steps(make_config) -> None:
    enc = ClipEncoder(VJEPA(make_config().encoder), frame_step=2)  # 4 frames, span 7
    enc.push(frame(10), episode=0)
    clip = enc.clip()
    assert clip.shape == (1, 4, 3, 32, 32)  # resized from 40 px
    assert torch.allclose(clip, torch.full_like(clip, 10 / 255), atol=1e-6)  # first frame repeated
    for v in range(20, 90, 10):
        enc.push(frame(v), episode=0)
    firsts = enc.clip()[0, :, 0, 0, 0] * 255
    assert firsts.round().tolist() == [20, 40, 60, 80]  # every 2nd of the last 7, newest last
    enc.push(frame(200), episode=1)  # new episode: old frames gone
    assert (enc.clip() * 255).round().eq(200).all()


def test_encode_is_flat_float32_and_deterministic(make_config) -> None:
    torch.manual_seed(0)
    cfg = make_config().encoder
    enc = ClipEncoder(VJEPA(cfg))
    enc.push(frame(100, 32))
    z = enc.encode()
    assert z.dtype == np.float32 and z.shape == (16 * cfg.dim,) and np.isfinite(z).all()
    assert np.array_equal(z, enc.encode())


def test_encoder_mismatch_names_fields() -> None:
    assert encoder_mismatch(EncoderConfig(), EncoderConfig()) == []
    diff = encoder_mismatch(EncoderConfig(dim=64), EncoderConfig())
    assert diff == ["encoder.dim: checkpoint 64, config 96"]


def test_clip_before_any_frame_is_an_error(make_config) -> None:
    with pytest.raises(RuntimeError, match="no frame"):
        ClipEncoder(VJEPA(make_config().encoder)).clip()

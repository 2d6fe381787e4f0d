"""bench/encoder.py keeps running on the CPU: a tiny model, one round, no timing asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = """encoder: {img_size: 32, dim: 32, depth: 1, heads: 2, pred_dim: 16, pred_depth: 1, pred_heads: 2}
train: {batch_size: 4}
"""


def test_encoder_bench_prints_speed_breakdown_and_flops_beside_fp32_eager(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    args = ["--config", str(cfg), "--rounds", "1", "--device", "cpu", "--precision", "bf16", "--peak-tflops", "1"]
    done = subprocess.run(
        [sys.executable, "bench/encoder.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert re.search(r"training speed: bf16 eager [\d.]+ clips/s, fp32 eager [\d.]+ clips/s, ratio [\d.]+", out), out
    assert re.search(r"bf16 eager step, median ms: batch to device [\d.]+, masks [\d.]+, forward [\d.]+", out), out
    assert re.search(r"achieved bf16 eager [\d.]+ TFLOP/s, fp32 eager [\d.]+ TFLOP/s \([\d.]+% of 1 peak\)", out), out

"""Dataset recording throughput: frames/s through DatasetWriter vs a raw PyAV + parquet baseline.

Prints the recording rate (2 cameras per frame) against the 10 Hz control rate, and the time to
save (commit) an episode as a fraction of the episode's duration. Frames come from a real sim
expert episode. `python bench/record_throughput.py [--frames 300] [--episodes 3]`
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agent.data.spec import spec_from_features
from agent.data.video import pick_codec
from agent.data.writer import DatasetWriter
from sim.expert_episodes import EpisodeData, Job, run_in
from sim.world import SimWorld


def raw_baseline(ep: EpisodeData, out: Path) -> float:
    """Seconds to encode both cameras with PyAV and write one parquet file, nothing else."""
    t0 = time.perf_counter()
    for cam, frames in ep.images.items():
        with av.open(str(out / f"{cam}.mp4"), "w") as c:
            s = c.add_stream(pick_codec(), rate=Fraction(10))
            s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            for img in frames:
                c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            c.mux(s.encode(None))
    pq.write_table(pa.table({"state": list(ep.state), "action": list(ep.action)}), out / "d.parquet")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=300, help="frames per episode (30 s at 10 Hz)")
    ap.add_argument("--episodes", type=int, default=3)
    a = ap.parse_args()
    with SimWorld("mobile_so101", image_size=(64, 64)) as world:
        ep = run_in(world, Job(0, "fetch", 0, max_steps=a.frames))
        spec = spec_from_features(world.features, "mobile_so101")
    n = len(ep.action)
    tmp = Path(tempfile.mkdtemp(prefix="amibot-bench-"))
    try:
        raw = min(raw_baseline(ep, tmp) for _ in range(a.episodes))
        writer = DatasetWriter(tmp / "ds", spec)
        adds, saves = [], []
        for _ in range(a.episodes):
            t0 = time.perf_counter()
            writer.start_episode("bench")
            for t in range(n):
                images = {cam: f[t] for cam, f in ep.images.items()}
                writer.add_frame(ep.state[t], ep.action[t], images, float(ep.capture_time[t]))
            t1 = time.perf_counter()
            writer.save_episode()
            adds.append(t1 - t0)
            saves.append(time.perf_counter() - t1)
    finally:
        shutil.rmtree(tmp)
    duration = n / spec.fps
    total = np.array(adds) + np.array(saves)
    fps = n / total.min()
    print(f"episode: {n} frames x 2 cameras 64x64 = {duration:.0f} s at {spec.fps} Hz")
    print(f"raw baseline (PyAV + parquet, no safety/stats): {n / raw:8.0f} frames/s")
    print(
        f"DatasetWriter end to end (add + save):          {fps:8.0f} frames/s "
        f"= {fps / spec.fps:.0f}x the 10 Hz control rate; {raw / total.min():.2f}x raw speed"
    )
    print(f"add_frame: {1e3 * min(adds) / n:.2f} ms/frame (both cameras)")
    print(f"save_episode: {max(saves):.3f} s worst = {max(saves) / duration:.4f}x the episode "
          f"duration (target <= 0.2x)")  # fmt: skip


if __name__ == "__main__":
    main()

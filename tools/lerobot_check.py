"""Load an amibot dataset with LeRobot's own code and compare it with amibot's reader.

Not part of CI (lerobot can't be installed there). Run it by hand inside a throwaway venv:

    python3 -m venv /tmp/lrv
    /tmp/lrv/bin/pip install torch==2.13.0          # the CPU wheel on this machine's disk
    /tmp/lrv/bin/pip install --no-deps lerobot==0.4.4 "accelerate>=1.10,<2"
    /tmp/lrv/bin/pip install "datasets>=4,<5" "huggingface-hub>=0.34.2,<0.36" pandas pyarrow \
        "av>=15,<16" jsonlines "packaging<26" draccus==0.10.0 "einops<0.9" fsspec pillow psutil \
        pyyaml safetensors termcolor deepdiff
    # torchcodec, lerobot's default video decoder on Linux x86-64 (needs FFmpeg's shared libraries):
    apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 \
        libavdevice59 libavfilter8
    /tmp/lrv/bin/pip install --no-deps torchcodec==0.13.0     # the release built for torch 2.13

    amibot record --expert --task navigate --episodes 3 --workers 1 --max-steps 30 --out /tmp/lr_check/ds
    HF_HUB_OFFLINE=1 /tmp/lrv/bin/python tools/lerobot_check.py /tmp/lr_check/ds

lerobot 0.4.4 pins torch<2.11 (and torchvision<0.26, torchcodec<0.11); the installs above keep
this machine's torch 2.13 and take torchcodec 0.13 (same VideoDecoder API). No torchvision build
imports beside the CPU torch 2.13 here, and torchvision >= 0.25 has no `io.VideoReader`, which
lerobot's "pyav" backend calls; so where torchvision is missing this script installs a stand-in
*in this process only* (`torchvision.transforms.ToTensor`, `torchvision.set_video_backend`, and
an `io.VideoReader` that does what torchvision's pyav VideoReader did: seek to the key frame at
or before the time, then decode RGB frames with their pts). lerobot's own files are untouched.

Checks (exit 1 on any failure): metadata (totals, fps, features, tasks, stats incl. quantiles),
policy features (no capture_time or privileged state among them), video info as LeRobot's
get_video_info reads it (what merge_datasets compares),
every frame's columns and task string against `agent.data.reader.Dataset`, every decoded video
frame (both backends where available) against the reader's frames, and delta_timestamps windows
with their padding masks. Any network connection attempt fails the run.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import socket
import sys
import types
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NETWORK_ATTEMPTS: list[str] = []


def _no_network() -> None:
    """Make every outgoing connection fail loudly (and be counted)."""

    def refuse(self, address, *a, **k):  # noqa: ANN001
        NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"lerobot_check: network connection attempted to {address!r}")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = lambda address, *a, **k: refuse(None, address)  # type: ignore[assignment]


def _torchvision_stand_in() -> str:
    """Use torchvision if it imports and has io.VideoReader; else install a minimal stand-in."""
    try:
        import torchvision  # noqa: F401
        import torchvision.io

        if hasattr(torchvision.io, "VideoReader"):
            return f"torchvision {torchvision.__version__}"
        why = f"torchvision {torchvision.__version__} has no io.VideoReader"
    except Exception as e:  # a CUDA build beside a CPU torch fails with RuntimeError
        why = f"torchvision does not import ({type(e).__name__}: {e})"
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]

    import av
    import numpy as np
    import torch

    class ToTensor:
        """PIL / HWC uint8 -> CHW float in [0, 1] (as torchvision.transforms.ToTensor)."""

        def __call__(self, pic):  # noqa: ANN001
            a = np.array(pic, copy=True)
            if a.ndim == 2:
                a = a[:, :, None]
            t = torch.from_numpy(a).permute(2, 0, 1).contiguous()
            return t.float().div(255) if t.dtype == torch.uint8 else t

    class VideoReader:
        """The pyav branch of torchvision.io.VideoReader (video streams only)."""

        def __init__(self, src: str, stream: str = "video") -> None:
            self.container = av.open(src, metadata_errors="ignore")
            kind, _, idx = stream.partition(":")
            self.pyav_stream = {kind: int(idx or 0)}
            self._c = self.container.decode(**self.pyav_stream)

        def __iter__(self):
            return self

        def __next__(self) -> dict:
            try:
                frame = next(self._c)
            except av.error.EOFError:
                raise StopIteration from None
            pts = float(frame.pts * frame.time_base)
            data = torch.tensor(frame.to_rgb().to_ndarray()).permute(2, 0, 1)
            return {"data": data, "pts": pts}

        def seek(self, time_s: float, keyframes_only: bool = False) -> VideoReader:
            s = self.container.streams.get(**self.pyav_stream)[0]
            offset = int(round(max(time_s, 0.0) / s.time_base))
            self.container.seek(offset, backward=True, any_frame=False, stream=s)
            self._c = self.container.decode(**self.pyav_stream)
            return self

    tv = types.ModuleType("torchvision")
    tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    tv.__version__ = "stand-in"
    tr = types.ModuleType("torchvision.transforms")
    tr.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
    tr.ToTensor = ToTensor
    tio = types.ModuleType("torchvision.io")
    tio.__spec__ = importlib.machinery.ModuleSpec("torchvision.io", None)
    tio.VideoReader = VideoReader
    tv.transforms, tv.io = tr, tio
    tv.set_video_backend = lambda backend: None
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.io": tio})
    return f"stand-in ({why})"


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        print(("  ok   " if ok else "  FAIL ") + what)
        if not ok:
            self.failures.append(what)
        return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="dataset root written by amibot")
    ap.add_argument("--backends", default="auto", help="comma list of torchcodec,pyav (auto: those available)")
    ap.add_argument("--max-items", type=int, default=2000, help="compare at most this many frames (evenly spread)")
    ap.add_argument("--image-tol", type=float, default=2 / 255, help="max abs pixel difference allowed, [0, 1] units")
    ap.add_argument("--privileged-obs", action="store_true", help="recorded with amibot record --privileged-obs")
    args = ap.parse_args()
    root = args.root.resolve()

    _no_network()
    tv = _torchvision_stand_in()

    import lerobot
    import numpy as np
    import torch
    from lerobot.datasets.compute_stats import DEFAULT_QUANTILES
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

    from agent.data.reader import Dataset

    backends = args.backends.split(",") if args.backends != "auto" else ["pyav"]
    if args.backends == "auto" and importlib.util.find_spec("torchcodec"):
        backends.insert(0, "torchcodec")
    versions = [f"lerobot {lerobot.__version__}", f"torch {torch.__version__}", f"torchvision {tv}"]
    if "torchcodec" in backends:
        import torchcodec

        versions.append(f"torchcodec {torchcodec.__version__}")
    print("versions:", "; ".join(versions))
    rep = Report()
    ours = Dataset(root)
    cols = ours.columns
    n = int(ours.info["total_frames"])

    print("metadata (LeRobotDatasetMetadata)")
    meta = LeRobotDatasetMetadata("local/ds", root=root)
    rep.check(meta.total_episodes == len(ours) == ours.info["total_episodes"], f"total_episodes {meta.total_episodes}")
    rep.check(meta.total_frames == n, f"total_frames {meta.total_frames}")
    rep.check(meta.fps == ours.fps, f"fps {meta.fps}")
    rep.check(meta.robot_type == ours.info["robot_type"], f"robot_type {meta.robot_type}")
    rep.check(list(meta.video_keys) == ours.video_keys, f"video_keys {meta.video_keys}")
    rep.check(list(meta.camera_keys) == ours.video_keys, f"camera_keys {meta.camera_keys}")
    lr_tasks = list(meta.tasks.sort_values("task_index").index)
    rep.check(lr_tasks == ours.tasks, f"tasks {lr_tasks}")
    rep.check(
        list(meta.tasks["task_index"]) == list(range(len(ours.tasks))) and meta.total_tasks == len(ours.tasks),
        "task_index 0..n-1",
    )
    rep.check(len(meta.episodes) == len(ours), f"meta.episodes rows {len(meta.episodes)}")
    for ep in range(len(ours)):
        lr, me = meta.episodes[ep], ours.episodes[ep]
        keys = ["episode_index", "length", "dataset_from_index", "dataset_to_index", "tasks"]
        keys += [f"videos/{k}/{s}" for k in ours.video_keys for s in ("from_timestamp", "to_timestamp")]
        if not all(lr[k] == me[k] for k in keys):
            rep.check(False, f"episode {ep} row differs: {[(k, lr[k], me[k]) for k in keys if lr[k] != me[k]]}")
    from lerobot.datasets.utils import dataset_to_policy_features
    from lerobot.datasets.video_utils import get_video_info

    inputs = sorted(dataset_to_policy_features(meta.features))
    allowed = {"observation.environment_state"} if args.privileged_obs else set()
    leaks = sorted({"observation.capture_time", "observation.environment_state"} & set(inputs) - allowed)
    rep.check(
        not leaks, f"policy features {inputs}: no bookkeeping or privileged column" + (f"; {leaks}" if leaks else "")
    )
    for k in ours.video_keys:
        info = get_video_info(root / meta.get_video_file_path(0, k))
        rep.check(meta.features[k]["info"] == info, f"{k} info = get_video_info of its file (merge_datasets compares)")
    want_stats = ("min", "max", "mean", "std", "count", *(f"q{int(q * 100):02d}" for q in DEFAULT_QUANTILES))
    stat_feats = [k for k, f in meta.features.items() if f["dtype"] not in ("string",)]
    missing = [(f, s) for f in stat_feats for s in want_stats if s not in (meta.stats or {}).get(f, {})]
    rep.check(
        not missing,
        f"stats.json has {list(want_stats)} for every feature" + (f"; missing {missing}" if missing else ""),
    )
    bad_shape = []
    for f in stat_feats:
        for s, v in (meta.stats or {}).get(f, {}).items():
            want = (1,) if s == "count" else (3, 1, 1) if f in ours.video_keys else tuple(meta.features[f]["shape"])
            if np.asarray(v).shape != want:
                bad_shape.append((f, s, np.asarray(v).shape, want))
    rep.check(
        not bad_shape,
        "stats shapes ((3,1,1) images, feature shape else, (1,) count)" + (f"; {bad_shape[:4]}" if bad_shape else ""),
    )
    for f in ("observation.state", "action"):
        x = cols[f].astype(np.float64)
        st = meta.stats[f]
        ok = np.allclose(st["min"], x.min(0)) and np.allclose(st["max"], x.max(0))
        ok = ok and np.allclose(st["mean"], x.mean(0), atol=1e-6) and np.allclose(st["std"], x.std(0), atol=1e-6)
        rep.check(bool(ok) and int(st["count"][0]) == n, f"stats {f} min/max/mean/std/count match the data")

    from lerobot.datasets.compute_stats import get_feature_stats

    worst_q = {}
    for f in ("observation.state", "action"):
        for ep, row in enumerate(ours.episodes):
            x = ours.episode(ep)[f].astype(np.float64)
            lr = get_feature_stats(x, axis=0, keepdims=False)
            # floor: lerobot takes var = E[x^2] - E[x]^2, noisy for a near-constant column (gripper)
            span = np.maximum(x.max(0) - x.min(0), 1e-3 * np.maximum(np.abs(x).max(0), 1.0))
            for k, v in lr.items():
                if k == "count" or f"stats/{f}/{k}" not in row:
                    continue
                err = float(np.max(np.abs(np.asarray(row[f"stats/{f}/{k}"]) - v) / span))
                worst_q[k] = max(worst_q.get(k, 0.0), err)
    # min/max/mean/std: equal up to rounding; quantiles: lerobot interpolates inside 1/5000-of-range bins
    tol = {"min": 1e-9, "max": 1e-9, "mean": 1e-6, "std": 1e-5}
    exact = all(v < tol.get(k, 2e-3) for k, v in worst_q.items())
    rep.check(
        exact and set(worst_q) >= set(want_stats) - {"count"},
        "episode stats vs lerobot get_feature_stats (state, action): max |diff| / range "
        + ", ".join(f"{k} {v:.3g}" for k, v in worst_q.items()),
    )

    step = max(1, n // args.max_items)
    idxs = sorted(
        set(range(0, n, step))
        | {int(e["dataset_from_index"]) for e in ours.episodes}
        | {int(e["dataset_to_index"]) - 1 for e in ours.episodes}
    )
    frames = {k: [ours.frames(k, ep) for ep in range(len(ours))] for k in ours.video_keys}
    for k in ours.video_keys:  # lerobot's image stats of each episode's decoded frames vs ours (raw)
        err: dict[str, float] = {}
        for ep, row in enumerate(ours.episodes):
            x = np.asarray(frames[k][ep])[:: max(1, row["length"] // 200)].transpose(0, 3, 1, 2)
            # float: lerobot 0.4.4 passes uint8 here itself, and its E[x^2] then wraps (its image std is off)
            lr = get_feature_stats(x.astype(np.float64), axis=(0, 2, 3), keepdims=True)
            for st in want_stats[:4] + want_stats[5:]:
                if f"stats/{k}/{st}" in row:
                    d = np.abs(np.squeeze(lr[st], 0) / 255 - np.asarray(row[f"stats/{k}/{st}"])).max()
                    err[st] = max(err.get(st, 0.0), float(d))
        # raw frames (ours, as lerobot's writer does) vs decoded: extremes move with codec ringing
        core = max(err[st] for st in ("mean", "std", "q10", "q50", "q90") if st in err)
        rep.check(
            core < 0.05,
            f"{k} episode stats vs lerobot get_feature_stats of the decoded frames (codec loss): max diff "
            + ", ".join(f"{st} {v:.3f}" for st, v in err.items()),
        )
    from lerobot.datasets.compute_stats import aggregate_stats

    from agent.data.stats import from_columns

    agg = aggregate_stats([from_columns(r, list(ours.features)) for r in ours.episodes])
    diff = {f: max(float(np.abs(agg[f][st] - meta.stats[f][st]).max()) for st in agg[f]) for f in agg}
    same_keys = all(set(agg[f]) == set(meta.stats[f]) for f in agg)
    rep.check(
        max(diff.values()) < 1e-6 and same_keys,
        f"stats.json = lerobot aggregate_stats of the episode stats (max diff {max(diff.values()):.2g})",
    )

    ep_of = cols["episode_index"]
    for backend in backends:
        print(f"LeRobotDataset, video_backend={backend!r}: {len(idxs)} of {n} frames")
        ds = LeRobotDataset("local/ds", root=root, video_backend=backend)
        rep.check(
            len(ds) == n and ds.num_frames == n and ds.num_episodes == len(ours),
            f"len {len(ds)}, num_episodes {ds.num_episodes}",
        )
        worst = {k: 0.0 for k in ours.video_keys}
        mean_err = {k: [] for k in ours.video_keys}
        col_bad, wrong_frame, f64_seen = [], [], set()
        for i in idxs:
            item = ds[i]
            ep = int(ep_of[i])
            fi = int(cols["frame_index"][i])
            for name, ft in ours.features.items():
                if ft["dtype"] == "video":
                    img = item[name]
                    ref = torch.from_numpy(np.array(frames[name][ep][fi])).permute(2, 0, 1).float() / 255
                    if img.shape != ref.shape or img.dtype != torch.float32:
                        col_bad.append((i, name, tuple(img.shape), str(img.dtype)))
                        continue
                    d = (img - ref).abs()
                    worst[name] = max(worst[name], float(d.max()))
                    mean_err[name].append(float(d.mean()))
                    # the right frame: closer to the reader's frame fi than to its neighbours
                    for nb in (fi - 1, fi + 1):
                        if 0 <= nb < len(frames[name][ep]):
                            other = torch.from_numpy(np.array(frames[name][ep][nb])).permute(2, 0, 1).float() / 255
                            if not torch.equal(other, ref) and (img - other).abs().mean() < d.mean():
                                wrong_frame.append((i, name, nb))
                    continue
                got = item[name].numpy()
                dtype = np.dtype(ft["dtype"])
                if dtype == np.float64 and ft["shape"] == [1]:
                    # lerobot's hf_transform_to_torch makes torch.tensor(python float): float32
                    dtype = np.dtype(np.float32)
                    f64_seen.add(name)
                want = np.asarray(cols[name][i], dtype=ft["dtype"]).astype(dtype).reshape(got.shape)
                if got.dtype != dtype or not np.array_equal(got, want):
                    col_bad.append((i, name, got, want))
            task = ours.tasks[int(cols["task_index"][i])]
            if item["task"] != task or ours.episodes[ep]["tasks"] != [task]:
                col_bad.append((i, "task", item["task"], task))
        note = (
            f" ({sorted(f64_seen)}: float64 on disk, float32 from lerobot, compared after rounding)" if f64_seen else ""
        )
        rep.check(
            not col_bad,
            "every non-video column bit-identical, dtypes as declared, task string"
            + note
            + (f"; {col_bad[:3]}" if col_bad else ""),
        )
        rep.check(
            not wrong_frame,
            "each decoded image is the frame at its index (not a neighbour)"
            + (f"; {wrong_frame[:3]}" if wrong_frame else ""),
        )
        for k in ours.video_keys:
            rep.check(
                worst[k] <= args.image_tol,
                f"{k}: max |lerobot - amibot reader| = {worst[k] * 255:.1f}/255, "
                f"mean {np.mean(mean_err[k]) * 255:.3f}/255",
            )

        print(f"delta_timestamps, video_backend={backend!r}")
        dt = 1 / ours.fps
        cam = ours.video_keys[0]
        delta = {cam: [-dt, 0.0], "observation.state": [-2 * dt, -dt, 0.0], "action": [0.0, dt, 2 * dt]}
        dsd = LeRobotDataset("local/ds", root=root, video_backend=backend, delta_timestamps=delta)
        bad = []
        for e in ours.episodes:
            lo, hi = int(e["dataset_from_index"]), int(e["dataset_to_index"])
            for i in sorted({lo, min(lo + 1, hi - 1), hi - 1}):
                item = dsd[i]
                for key, offs in delta.items():
                    shifts = [round(o * ours.fps) for o in offs]
                    want_pad = [not (lo <= i + s < hi) for s in shifts]
                    src = [min(max(i + s, lo), hi - 1) for s in shifts]
                    if item[f"{key}_is_pad"].tolist() != want_pad:
                        bad.append((i, key, "pad", item[f"{key}_is_pad"].tolist(), want_pad))
                    if key == cam:
                        ep = int(ep_of[i])
                        ref = np.stack([frames[cam][ep][int(cols["frame_index"][j])] for j in src])
                        ref = torch.from_numpy(ref).permute(0, 3, 1, 2).float() / 255
                        if item[key].shape != ref.shape or float((item[key] - ref).abs().max()) > args.image_tol:
                            bad.append((i, key, tuple(item[key].shape)))
                    elif not np.array_equal(item[key].numpy(), cols[key][src]):
                        bad.append((i, key, "values"))
        rep.check(not bad, f"windows {delta} and *_is_pad at every episode's edges" + (f"; {bad[:3]}" if bad else ""))

    rep.check(not NETWORK_ATTEMPTS, f"no network connection attempted {NETWORK_ATTEMPTS[:3]}")
    print(f"{'FAILED' if rep.failures else 'PASSED'}: {len(rep.failures)} failure(s)")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""`amibot dataset info|replay|validate DIR`: inspect, check and replay a recorded dataset."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.data.reader import Dataset
from agent.data.validate import DatasetError, validate


def _info(a: argparse.Namespace) -> int:
    ds = Dataset(a.dir)
    info = ds.info
    lengths = [e["length"] for e in ds.episodes]
    outcomes = [e["success"] for e in ds.episodes if e.get("success") is not None]  # LeRobot's own: none
    success = f"; success {sum(outcomes)}/{len(outcomes)}" if outcomes else ""
    print(f"{a.dir}: LeRobot {info['codebase_version']}, robot {info['robot_type']}, {ds.fps} fps")
    print(f"  episodes {len(ds)}, frames {info['total_frames']}, tasks {info['total_tasks']}, "
          f"dropped frames {info.get('dropped_frames', 0)}")  # fmt: skip
    if lengths:
        mean = sum(lengths) / len(lengths)
        print(f"  length min/mean/max {min(lengths)}/{mean:.1f}/{max(lengths)} frames{success}")
    for name, ft in info["features"].items():
        print(f"  {name:<28} {ft['dtype']:<8} {ft['shape']}")
    for i, task in enumerate(ds.tasks[: a.tasks]):
        print(f"  task {i}: {task}")
    return 0


def _validate(a: argparse.Namespace) -> int:
    try:
        summary = validate(a.dir)
    except DatasetError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(f"{a.dir}: valid ({summary['episodes']} episodes, {summary['frames']} frames)")
    return 0


def _replay(a: argparse.Namespace) -> int:
    from agent.data.replay import replay

    ds = Dataset(a.dir)
    episodes = a.episode or list(range(len(ds)))
    worst = 0.0
    for ep in episodes:
        try:
            d = replay(ds, ep)
        except ValueError as exc:  # not a sim recording (e.g. a real robot's), or no such episode
            print(f"error: {a.dir}: {exc}", file=sys.stderr)
            return 2
        worst = max(worst, d.max_state_error)
        print(f"episode {ep}: {d.steps} steps, state error max {d.max_state_error:.2e} "
              f"mean {d.mean_state_error:.2e}, final base pose error {d.final_pose_error:.3f} m, "
              f"replay success {d.success} (recorded {ds.episodes[ep].get('success')})")  # fmt: skip
    return 0 if worst <= a.tolerance else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="amibot dataset", description=__doc__)
    sub = ap.add_subparsers(dest="action", required=True)
    p = sub.add_parser("info", help="size, features and tasks")
    p.add_argument("--tasks", type=int, default=10, help="list this many task strings")
    p.set_defaults(func=_info)
    p = sub.add_parser("validate", help="check layout, lengths, timestamps, indices, videos, stats")
    p.set_defaults(func=_validate)
    p = sub.add_parser("replay", help="re-run recorded actions in the sim and report divergence")
    p.add_argument("--episode", type=int, action="append", help="episode(s) to replay (default all)")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="exit 1 when any state component drifts further than this")  # fmt: skip
    p.set_defaults(func=_replay)
    for p in sub.choices.values():
        p.add_argument("dir", type=Path)
    a = ap.parse_args(argv)
    if not (a.dir / "meta/info.json").exists():
        print(f"error: {a.dir} is not a dataset (no meta/info.json)", file=sys.stderr)
        return 2
    return a.func(a)


if __name__ == "__main__":
    raise SystemExit(main())

"""`amibot teleop`: drive the robot by hand (or by script) and optionally record episodes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.runtime.config import ConfigError

LAUNCH = Path(__file__).resolve().parents[2] / "launch" / "teleop_record.yaml"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="amibot teleop", description=__doc__)
    ap.add_argument("--backend", choices=["sim", "robot"], default="sim")
    ap.add_argument("--device", choices=["keyboard", "gamepad", "leader", "script", "file"], default="keyboard")
    ap.add_argument("--record", type=Path, help="dataset root to record into (appends)")
    ap.add_argument("--task", default="", help="instruction stored with recorded episodes")
    ap.add_argument("--sim-task", default="fetch", choices=["navigate", "pick", "place", "fetch"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=0, help="quit after N episodes (0: until Esc)")
    ap.add_argument("--script-file", type=Path, help="device file: JSON lines of commands")
    ap.add_argument("--leader-driver", default="", help="device leader: package.module:Class")
    ap.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE")
    return ap  # fmt: skip


def overrides(a: argparse.Namespace, tty: str) -> list[str]:
    """--set items for launch/teleop_record.yaml from the command line."""
    out = [
        f"teleop.device={a.device}",
        f"teleop.tty={tty}",
        f"teleop.sim_task={a.sim_task}",
        f"teleop.seed={a.seed}",
        f"teleop.episodes={a.episodes}",
        f"teleop.task={json.dumps(a.task)}",
        f"teleop.auto_next={json.dumps(a.device == 'script')}",
        f"sim.task={a.sim_task}",
        f"sim.seed={a.seed}",
    ]
    if a.script_file:
        out.append(f"teleop.script_file={a.script_file.resolve()}")
    if a.leader_driver:
        out.append(f"teleop.leader_driver={a.leader_driver}")
    if a.record:
        out.append(f"recorder.root={a.record.resolve()}")
    else:
        out.append("teleop.recorder_rpc=")
    return out + list(a.set)


def main(argv: Sequence[str] | None = None) -> int:
    from agent.runtime.graph import load_launch, validate
    from agent.runtime.launcher import Launcher
    from agent.runtime.node import configure_logging

    a = build_parser().parse_args(argv)
    if a.backend == "robot":
        print("error: the hardware backend is not available yet; use --backend sim", file=sys.stderr)
        return 2
    tty = os.ttyname(sys.stdin.fileno()) if sys.stdin.isatty() else "/dev/tty"
    configure_logging("teleop")
    try:
        spec = load_launch(LAUNCH, overrides(a, tty))
        if not a.record:
            spec.nodes = [n for n in spec.nodes if n.name != "recorder"]
            for node in spec.nodes:
                node.after = [d for d in node.after if d != "recorder"]
            validate(spec, source="amibot teleop")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return Launcher(spec).run()


if __name__ == "__main__":
    raise SystemExit(main())

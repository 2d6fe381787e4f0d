"""`amibot teleop`: drive the robot by hand (or by script) and optionally record episodes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.resources import DATA_ROOT
from agent.runtime.config import ConfigError

LAUNCH = DATA_ROOT / "launch" / "teleop_record.yaml"
LAUNCH_ROBOT = DATA_ROOT / "launch" / "teleop_robot.yaml"  # --backend robot: the hardware node is named 'robot'
ROBOT_SCRIPT = DATA_ROOT / "configs" / "hardware" / "demo_motion.jsonl"  # --device script on the robot (no expert)
LEADER_DRIVER = "hardware.feetech.leader:FeetechLeader"


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
    ap.add_argument("--emulate", action="store_true", help="--backend robot, no robot: emulated servos, test cameras")
    ap.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE")
    return ap  # fmt: skip


def overrides(a: argparse.Namespace, tty: str) -> list[str]:
    """--set items for launch/teleop_record.yaml (or teleop_robot.yaml) from the command line."""
    robot = a.backend == "robot"
    script_file = a.script_file
    device = a.device
    if robot and device == "script":  # the sim expert needs privileged sim state: play a gentle demo instead
        device, script_file = "file", script_file or ROBOT_SCRIPT  # main() allows this only with --emulate
    out = [
        f"teleop.device={device}",
        f"teleop.tty={tty}",
        f"teleop.seed={a.seed}",
        f"teleop.episodes={a.episodes}",
        f"teleop.task={json.dumps(a.task)}",
    ]
    if robot:
        out += robot_overrides(a)
    else:
        out += [f"teleop.sim_task={a.sim_task}", f"teleop.auto_next={json.dumps(a.device == 'script')}",
                f"sim.task={a.sim_task}", f"sim.seed={a.seed}"]  # fmt: skip
    if script_file:
        out.append(f"teleop.script_file={Path(script_file).resolve()}")
    if a.leader_driver or (robot and a.device == "leader"):
        out.append(f"teleop.leader_driver={a.leader_driver or LEADER_DRIVER}")
    if a.record:
        out.append(f"recorder.root={a.record.resolve()}")
    else:
        out.append("teleop.recorder_rpc=")
    return out + list(a.set)


def robot_overrides(a: argparse.Namespace) -> list[str]:
    """--emulate: the hardware node starts its own servo-bus emulator; cameras become test patterns."""
    if not a.emulate:
        return []
    out = ["robot.emulate=true", "robot.cameras.head.source=test_pattern", "robot.cameras.wrist.source=test_pattern"]
    if a.device == "leader" and not a.leader_driver:
        out.append("teleop.leader_args.emulate=true")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from agent.runtime.graph import load_launch, validate
    from agent.runtime.launcher import Launcher
    from agent.runtime.node import configure_logging

    a = build_parser().parse_args(argv)
    if a.emulate and a.backend != "robot":
        print("error: --emulate goes with --backend robot", file=sys.stderr)
        return 2
    if a.backend == "robot" and a.device == "script" and not a.emulate:
        print("error: --device script on a real robot would play a canned motion nobody named; use --device "
              "file --script-file FILE (or --emulate)", file=sys.stderr)  # fmt: skip
        return 2
    tty = os.ttyname(sys.stdin.fileno()) if sys.stdin.isatty() else "/dev/tty"
    configure_logging("teleop")
    try:
        spec = load_launch(LAUNCH_ROBOT if a.backend == "robot" else LAUNCH, overrides(a, tty))
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

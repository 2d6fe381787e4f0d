"""The `amibot` command: launch graphs, make keys, inspect topics, call services, run the sim."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agent.runtime.config import ConfigError


def _launch(args: argparse.Namespace) -> int:
    from agent.runtime.graph import load_launch
    from agent.runtime.launcher import Launcher
    from agent.runtime.node import configure_logging

    configure_logging("launch")
    try:
        spec = load_launch(args.file, args.set)
        if args.view or args.view_save or args.view_serve:
            from agent.view.launch import add_view

            add_view(spec, save=args.view_save, spawn=args.view, serve=args.view_serve, source=str(args.file))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.file}: graph '{spec.name}' is valid ({len(spec.nodes)} nodes)")
        return 0
    return Launcher(spec).run()


def _keys(args: argparse.Namespace) -> int:
    from agent.runtime.security import make_keys

    authorized = args.dir / "authorized"
    authorized.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        public, secret = make_keys(args.dir, name)
        (authorized / public.name).write_bytes(public.read_bytes())
        print(f"{name}: {public} (public, authorized), {secret} (secret)")
    return 0


def _topic(args: argparse.Namespace) -> int:
    from agent.runtime.bus import Subscriber
    from agent.runtime.rpc_cli import curve_client

    try:
        curve = curve_client(args.endpoint, args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sub = Subscriber([args.endpoint], [args.topic], curve={args.endpoint: curve} if curve else None, name="cli")
    deadline = time.monotonic() + args.duration if args.duration else None
    count, first = 0, None
    try:
        while deadline is None or time.monotonic() < deadline:
            got = sub.recv(timeout=0.2)
            if got is None or got[0] != args.topic:
                continue
            count += 1
            first = first or time.monotonic()
            if args.action == "echo":
                print(_describe(got[1]), flush=True)
                if args.count and count >= args.count:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
    if args.action == "hz":
        span = (time.monotonic() - first) if first else 0.0
        rate = (count - 1) / span if count > 1 and span > 0 else 0.0
        print(f"{args.topic}: {count} messages, {rate:.1f} Hz")
    return 0


def _describe(msg: object) -> str:
    import dataclasses

    import numpy as np

    out = {}
    for f in dataclasses.fields(msg):  # type: ignore[arg-type]
        value = getattr(msg, f.name)
        if isinstance(value, np.ndarray):
            value = value.round(4).tolist() if value.size <= 16 else f"<{value.dtype} {list(value.shape)}>"
        out[f.name] = value
    return f"{type(msg).__name__} {json.dumps(out)}"


def _call(args: argparse.Namespace) -> int:
    from agent.runtime.bus import RpcError, RpcTimeout
    from agent.runtime.rpc_cli import rpc_client, timeout_hint

    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        print(f"error: params {args.params!r} are not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(params, dict):
        print(f"error: params {args.params!r} must be a JSON object, e.g. '{{\"seed\": 3}}'", file=sys.stderr)
        return 2
    try:
        client = rpc_client(args.endpoint, args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = client.call(args.method, params, timeout=args.timeout)
    except RpcTimeout as exc:
        print(f"error: {exc} ({timeout_hint(args)})", file=sys.stderr)
        return 1
    except RpcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(json.dumps(result, indent=2, default=str))
    return 0


# Subcommands whose argument parsing lives in their own module: `amibot NAME ARGS...` calls
# MODULE.main(ARGS) with ARGS untouched (argparse would choke on options before a REMAINDER).
DELEGATED = {
    "sim": ("sim.run_episode", "run one sim episode with the scripted expert"),
    "train": ("agent.train_cli", "train a model: amibot train encoder --data DIR ..."),
    "estop": ("agent.safety.estop_cli", "trip, show or reset the latched e-stop"),
    "resume": ("agent.safety.resume_cli", "allow motion again after an e-stop reset"),
    "safety": ("agent.safety.report", "show safety interventions by reason"),
    "teleop": ("agent.teleop.cli", "drive by hand and record episodes"),
    "record": ("sim.record_cli", "generate demonstrations with the sim expert"),
    "dataset": ("agent.data.dataset_cli", "info | replay | validate a recorded dataset"),
    "encode": ("agent.world_model.latent_cache", "cache the encoder's latents of a dataset (world-model training)"),
}


def _run_delegated(name: str, argv: Sequence[str]) -> int:
    import importlib

    return int(importlib.import_module(DELEGATED[name][0]).main(list(argv)) or 0)


def build_parser() -> argparse.ArgumentParser:
    from agent.runtime.rpc_cli import add_key_options

    parser = argparse.ArgumentParser(prog="amibot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("launch", help="run a process graph (launch/*.yaml)")
    p.add_argument("file", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE", help="override a node param")
    p.add_argument("--check", action="store_true", help="validate the graph and exit")
    p.add_argument("--view", action="store_true", help="add a view node: the rerun viewer (web viewer if no display)")
    p.add_argument("--view-save", default="", metavar="FILE.rrd", help="add a view node recording to FILE.rrd")
    p.add_argument("--view-serve", action="store_true", help="add a view node serving the web viewer on :9090")
    p.set_defaults(func=_launch)

    p = sub.add_parser("keys", help="make CurveZMQ key pairs (public keys go to DIR/authorized)")
    p.add_argument("names", nargs="+")
    p.add_argument("--dir", type=Path, default=Path("keys"))
    p.set_defaults(func=_keys)

    p = sub.add_parser("topic", help="print or measure a topic: amibot topic echo|hz ENDPOINT TOPIC")
    p.add_argument("action", choices=["echo", "hz"])
    p.add_argument("endpoint")
    p.add_argument("topic")
    p.add_argument("--count", type=int, default=0, help="echo: stop after N messages")
    p.add_argument("--duration", type=float, default=0.0, help="stop after S seconds (hz: default 5)")
    add_key_options(p)
    p.set_defaults(func=_topic)

    p = sub.add_parser("call", help="call a node's service: amibot call ENDPOINT METHOD '{json}'")
    p.add_argument("endpoint")
    p.add_argument("method")
    p.add_argument("params", nargs="?", default="{}")
    p.add_argument("--timeout", type=float, default=1.0)
    add_key_options(p)
    p.set_defaults(func=_call)

    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        return _run_delegated(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "topic" and args.action == "hz" and not args.duration:
        args.duration = 5.0
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())

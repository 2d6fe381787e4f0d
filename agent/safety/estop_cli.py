"""`amibot estop`: trip, show or reset the latched e-stop (file always; the node's rpc when given)."""

from __future__ import annotations

import argparse
import json
import sys

from agent.runtime.bus import RpcError, RpcTimeout
from agent.runtime.rpc_cli import add_key_options, rpc_client, timeout_hint
from agent.safety.estop import EstopLatch, EstopTripped

DEFAULT_FILE = "~/.amibot/estop.json"


def main(argv: list[str], prog: str = "amibot estop") -> int:
    """Exit 0 when the wanted state is on disk (and at the node, if an endpoint was given), else 1."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__)
    ap.add_argument("--file", default=DEFAULT_FILE, help="the e-stop latch file (the safety node's estop_file)")
    ap.add_argument("--rpc", default="", help="the safety node's rpc endpoint, to act at once")
    ap.add_argument("--reason", default="", help="why (required for --reset)")
    add_key_options(ap, default_server="safety")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--reset", action="store_true", help="release the latch; motion waits for `amibot resume`")
    group.add_argument("--status", action="store_true", help="show the state only")
    group.add_argument("--resume", action="store_true", help="after a reset: allow motion again (`amibot resume`)")
    args = ap.parse_args(argv)
    if args.reset and not args.reason.strip():
        print("error: --reset needs --reason '...'", file=sys.stderr)
        return 2
    latch = EstopLatch(args.file)
    if args.resume:
        try:
            latch.resume(args.reason or "amibot resume")
        except EstopTripped as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    elif not args.status:
        latch.write(not args.reset, args.reason or "amibot estop")
    state = latch.read()
    shown = {"tripped": state.tripped, "resume_needed": state.resume_needed, "reason": state.reason}
    print(json.dumps({**shown, "file": str(latch.path)}))
    if not args.rpc:
        return 0
    try:  # the file is written first: a key problem never keeps an e-stop from the latch
        client = rpc_client(args.rpc, args, default_server="safety")
    except ValueError as exc:
        print(f"error: {exc} (the latch file is as printed above; the node reads it every period)", file=sys.stderr)
        return 2
    try:
        method = "estop_status" if args.status else ("estop_reset" if args.reset else "estop")
        method = "resume" if args.resume else method
        reply = client.call(method, {"reason": args.reason or f"amibot {method}"}, timeout=0.5, retries=2)
        print(json.dumps({"node": reply}))
    except (RpcError, RpcTimeout) as exc:
        hint = f"; {timeout_hint(args)}" if isinstance(exc, RpcTimeout) else ""
        print(
            f"warning: safety node did not answer ({exc}{hint}); it reads the file within one control period",
            file=sys.stderr,
        )
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

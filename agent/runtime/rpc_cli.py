"""Clients in command-line tools (`amibot call`, `amibot estop --rpc`, `amibot topic`): CurveZMQ key options.

A graph launched with `security: {keys_dir: DIR}` answers only clients whose public key was in
DIR/authorized when its nodes started; `--keys DIR` makes the tool such a client.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agent.runtime.bus import RpcClient
from agent.runtime.security import CurveClient

DEFAULT_KEY_NAME = "operator"
_NODE_ENDPOINT = re.compile(r"^ipc://.*/([\w.-]+)\.(?:rpc|pub)$")  # the launcher's ipc://RUN_DIR/NODE.rpc|pub


def add_key_options(parser: argparse.ArgumentParser, default_server: str = "") -> None:
    """--keys DIR, --as NAME, --server NODE."""
    group = parser.add_argument_group("CurveZMQ (a graph launched with security: {keys_dir: DIR})")
    group.add_argument("--keys", type=Path, metavar="DIR", help="the graph's keys dir: connect with CurveZMQ")
    group.add_argument(
        "--as",
        dest="key_name",
        default=DEFAULT_KEY_NAME,
        metavar="NAME",
        help=f"use the key pair DIR/NAME.key_secret (default {DEFAULT_KEY_NAME}; `amibot keys NAME` makes it)",
    )
    otherwise = f", else {default_server}" if default_server else ""
    group.add_argument(
        "--server",
        metavar="NODE",
        help=f"the node serving the endpoint; its public key is DIR/NODE.key (default: NODE of ipc://.../NODE.rpc|pub{otherwise})",
    )


def curve_client(endpoint: str, args: argparse.Namespace, default_server: str = "") -> CurveClient | None:
    """The CurveZMQ keys the options name for endpoint (None without --keys); ValueError says what is missing."""
    if args.keys is None:
        return None
    match = _NODE_ENDPOINT.match(endpoint)
    server = args.server or (match.group(1) if match else default_server)
    if not server:
        raise ValueError(
            f"--keys: name the node serving {endpoint} with --server NODE (its key is {args.keys}/NODE.key)"
        )
    curve = CurveClient(args.keys / f"{args.key_name}.key_secret", args.keys / f"{server}.key")
    if not curve.secret_file.is_file():
        raise ValueError(
            f"no key file {curve.secret_file}: make the pair with `amibot keys {args.key_name} --dir {args.keys}` "
            f"before the graph starts (nodes read {args.keys}/authorized when they start), or pick one with --as NAME"
        )
    if not curve.server_public_file.is_file():
        raise ValueError(f"no public key {curve.server_public_file} of node '{server}' (the node serving {endpoint})")
    return curve


def rpc_client(endpoint: str, args: argparse.Namespace, default_server: str = "") -> RpcClient:
    """A client of endpoint, with the CurveZMQ keys the options name; ValueError says what is missing."""
    return RpcClient(endpoint, curve=curve_client(endpoint, args, default_server))


def timeout_hint(args: argparse.Namespace) -> str:
    """What to check when a node does not answer."""
    if args.keys is None:
        return "is the node up? a graph launched with security answers only with --keys DIR"
    return f"is the node up, and was {args.keys}/authorized/{args.key_name}.key there when it started?"

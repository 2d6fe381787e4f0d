"""CurveZMQ keys and socket setup: servers accept only the public keys they are given."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger(__name__)
_authenticators: dict[int, ThreadAuthenticator] = {}


@dataclass(frozen=True)
class CurveServer:
    """Bind side: own secret key plus a directory of accepted client public keys (*.key)."""

    secret_file: Path
    authorized_dir: Path


@dataclass(frozen=True)
class CurveClient:
    """Connect side: own secret key plus the server's public key file."""

    secret_file: Path
    server_public_file: Path


def graph_client(keys_dir: str | Path, client_name: str, server_name: str) -> CurveClient | None:
    """Keys for `client_name` connecting to node `server_name` of a graph keyed in keys_dir (None: Curve off)."""
    if not keys_dir:
        return None
    keys = Path(keys_dir)
    return CurveClient(keys / f"{client_name}.key_secret", keys / f"{server_name}.key")


def make_keys(directory: Path, name: str) -> tuple[Path, Path]:
    """Create NAME.key (public) and NAME.key_secret (owner-only) in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    Path(secret).chmod(0o600)
    return Path(public), Path(secret)


def _load(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        kind = "secret" if secret else "public"
        raise FileNotFoundError(f"CurveZMQ {kind} key file not found: {path}")
    public, secret_key = zmq.auth.load_certificate(str(path))
    if secret and secret_key is None:
        raise ValueError(f"{path} holds no secret key (expected a .key_secret file)")
    return public, secret_key


def _ensure_authenticator(ctx: zmq.Context, authorized_dir: Path) -> None:
    if not authorized_dir.is_dir():
        raise FileNotFoundError(f"CurveZMQ authorized-keys directory not found: {authorized_dir}")
    auth = _authenticators.get(id(ctx))
    if auth is None:
        auth = ThreadAuthenticator(ctx, log=logging.getLogger("amibot.zap"))
        auth.start()
        _authenticators[id(ctx)] = auth
    auth.configure_curve(domain="*", location=str(authorized_dir))


def stop_authenticator(ctx: zmq.Context) -> None:
    """Stop the ZAP thread of a context, if any (before terminating it)."""
    auth = _authenticators.pop(id(ctx), None)
    if auth is not None:
        auth.stop()


def apply_server(sock: zmq.Socket, ctx: zmq.Context, curve: CurveServer) -> None:
    """Make a binding socket a CURVE server that authenticates its clients."""
    public, secret = _load(curve.secret_file, secret=True)
    _ensure_authenticator(ctx, curve.authorized_dir)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_server = True


def apply_client(sock: zmq.Socket, curve: CurveClient) -> None:
    """Make a connecting socket a CURVE client of a known server."""
    public, secret = _load(curve.secret_file, secret=True)
    server_public, _ = _load(curve.server_public_file, secret=False)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server_public

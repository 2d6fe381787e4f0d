"""Watchdog: which upstream or input problems force a controlled stop right now (pure function)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.safety.config import WatchdogConfig
from agent.safety.constraints import Intervention


@dataclass(frozen=True)
class PeerSeen:
    """What the safety node knows about an upstream node from its last heartbeat."""

    health: str
    ready: bool
    received: float  # monotonic receive time


def faults(
    now: float,
    cfg: WatchdogConfig,
    *,
    last_command: float | None,
    last_obs: float | None,
    peers: dict[str, PeerSeen],
    surprise_until: float,
    estop: str | None,
) -> list[Intervention]:
    """Every reason to stop; empty when all inputs are fresh, all required peers alive and no e-stop."""
    out: list[Intervention] = []
    if estop is not None:
        out.append(Intervention("estop", "estop", "estop_latched", estop))
    if last_obs is None or now - last_obs > cfg.obs_timeout_s:
        out.append(Intervention("watchdog.obs", "stop", "stale_state", "no fresh robot state"))
    if last_command is None or now - last_command > cfg.cmd_timeout_s:
        out.append(Intervention("watchdog.command", "stop", "no_command", "no fresh proposed command"))
    for name in cfg.require_peers:
        seen = peers.get(name)
        if seen is None or now - seen.received > cfg.peer_timeout_s:
            out.append(Intervention("watchdog.heartbeat", "stop", "heartbeat_missing", name))
        elif not seen.ready or seen.health not in ("ok", "degraded"):
            out.append(Intervention("watchdog.heartbeat", "stop", "peer_unhealthy", f"{name}: {seen.health}"))
    if now < surprise_until:
        out.append(Intervention("watchdog.surprise", "stop", "surprise", "world model surprised"))
    return out

"""The checks every robot backend (sim, hardware) makes before a command may move anything."""

from __future__ import annotations

from agent.runtime.messages import Command


def refusal(
    msg: Command,
    current: Command | None,
    *,
    latched: bool,
    episode: int,
    n_arm: int,
    accept_sources: list[str],
    now: float,
) -> tuple[str, str] | None:
    """(reason code, detail) why a backend must not apply `msg`, or None.

    latched: a latched stop (rpc `stop` with latch: true) was received, so nothing moves the robot again;
    current: the command now applied; episode: the backend's current episode; now: monotonic time.
    """
    if latched:
        return "stop_latched", f"command {msg.seq} after a latched stop: the backend accepts no command until it exits"
    if accept_sources and msg.source not in accept_sources:
        return "source", f"source {msg.source!r} not in {accept_sources}"
    if msg.episode and msg.episode != episode:  # checked against another episode's state
        return "episode", f"command {msg.seq} is for episode {msg.episode}, this is episode {episode}"
    if msg.valid_until < now:
        return "expired", f"command {msg.seq} expired {now - msg.valid_until:.3f}s ago"
    if msg.arm.shape != (n_arm,):
        return "shape", f"arm has {msg.arm.shape[0]} targets, robot has {n_arm} joints"
    if current is not None and msg.seq <= current.seq and msg.source == current.source:
        return "out_of_order", f"seq {msg.seq} after {current.seq}"
    return None

"""The backends' shared command checks: each refusal by its reason code, and a good command passes."""

from __future__ import annotations

import numpy as np

from agent.runtime.command_gate import refusal
from agent.runtime.messages import Command


def cmd(seq: int = 5, source: str = "safety", episode: int = 2, valid_until: float = 11.0, n: int = 5) -> Command:
    return Command(base_vel=np.zeros(3), arm=np.zeros(n), gripper=0.5, valid_until=valid_until, source=source,
                   seq=seq, episode=episode)  # fmt: skip


def reason(msg: Command, current: Command | None = None, latched: bool = False) -> str | None:
    why = refusal(msg, current, latched=latched, episode=2, n_arm=5, accept_sources=["safety"], now=10.0)
    return None if why is None else why[0]


def test_each_refusal_and_a_pass() -> None:
    assert reason(cmd()) is None
    assert reason(cmd(episode=0)) is None  # unbound commands are not checked for the episode
    assert reason(cmd(source="teleop")) == "source"
    assert reason(cmd(episode=1)) == "episode"
    assert reason(cmd(valid_until=9.9)) == "expired"
    assert reason(cmd(n=6)) == "shape"
    assert reason(cmd(seq=5), current=cmd(seq=5)) == "out_of_order"
    assert reason(cmd(seq=6), current=cmd(seq=5)) is None
    assert reason(cmd(seq=6), current=cmd(seq=5), latched=True) == "stop_latched"  # a good command, refused

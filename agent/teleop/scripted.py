"""Headless teleop sources: the sim expert (over the sim node's RPC) or a file of commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agent.runtime.bus import RpcClient
from agent.runtime.messages import Observation
from agent.teleop.source import QUIT, Motion


class ExpertSource:
    """Asks the sim node's `expert_action` RPC once per new observation (sim only)."""

    def __init__(self, client: RpcClient, timeout_s: float = 1.0) -> None:
        self.client = client  # of the sim node's rpc; closed with this source
        self.timeout_s = timeout_s
        self.last_seq = -1

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        if obs is None or obs.seq == self.last_seq:
            return None, []
        self.last_seq = obs.seq
        a = self.client.call("expert_action", timeout=self.timeout_s, retries=0)
        if a.get("done"):  # the episode ended: nothing to send until the next one starts
            return None, []
        return Motion(np.asarray(a["base_vel"]), np.asarray(a["arm"]), float(a["gripper"])), []

    def close(self) -> None:
        self.client.close()


class FileSource:
    """Plays a JSON-lines file of {"base_vel": [3], "arm": [n], "gripper": g}, one per tick."""

    def __init__(self, path: Path) -> None:
        self.lines = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
        self.i = 0

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        if obs is None:
            return None, []
        if self.i >= len(self.lines):
            return None, [QUIT]
        row = self.lines[self.i]
        self.i += 1
        arm = np.asarray(row["arm"], dtype=np.float64) if "arm" in row else None
        return Motion(np.asarray(row.get("base_vel", [0, 0, 0]), np.float64), arm,
                      row.get("gripper")), []  # fmt: skip

    def close(self) -> None:
        """Nothing to release."""

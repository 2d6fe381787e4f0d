"""The scripted expert as a node: proposes commands over the bus like any planner or teleop source.

The expert plans on privileged sim state, which lives in the sim process, so it asks the sim node
for its action (RPC `expert_action`) and publishes that as an ordinary proposed command; everything
downstream (safety, the backend's deadman) treats it like any other command source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from agent.runtime.bus import RpcError, RpcTimeout
from agent.runtime.messages import Command, Observation
from agent.runtime.node import Node, NodeConfig, run_node


@dataclass
class ExpertNodeConfig(NodeConfig):
    sim_rpc: str = ""  # the sim node's request/reply endpoint
    obs_topic: str = "obs"
    command_topic: str = "cmd.proposed"
    command_ttl_s: float = 0.3  # how long each command stays valid
    rpc_timeout_s: float = 1.0

    def check(self) -> None:
        super().check()
        if not self.sim_rpc:
            raise ValueError("key 'sim_rpc' must name the sim node's rpc endpoint")
        if self.obs_topic not in self.inputs:
            raise ValueError(f"key 'obs_topic' = {self.obs_topic!r} is not in 'inputs' {sorted(self.inputs)}")


class ExpertNode(Node):
    """On each observation, asks the sim for the expert's action and proposes it as a command."""

    config_cls = ExpertNodeConfig
    latest_topics = frozenset({"obs"})

    def __init__(self, config: ExpertNodeConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.sim = self.rpc_client(config.sim_rpc)
        self.last_obs_seq = -1
        self.last_done_episode = -1
        self.on(config.obs_topic, self._on_obs, Observation)

    def _on_obs(self, msg: Observation) -> None:
        if msg.seq == self.last_obs_seq:
            return
        self.last_obs_seq = msg.seq
        try:
            action = self.sim.call("expert_action", timeout=self.cfg.rpc_timeout_s, retries=0)
        except (RpcError, RpcTimeout) as exc:
            self.counters["expert_errors"] += 1
            self.log.warning("no expert action: %s", exc)
            return
        if action.get("done"):  # the episode is over: nothing to propose until the next one
            if msg.episode != self.last_done_episode:
                self.last_done_episode = msg.episode
                self.counters["episodes_over"] += 1
                self.log.info("episode %d over (success=%s): no more commands", msg.episode, action["success"])
            return
        self.publish(
            self.cfg.command_topic,
            Command(
                base_vel=np.asarray(action["base_vel"], dtype=np.float64),
                arm=np.asarray(action["arm"], dtype=np.float64),
                gripper=float(action["gripper"]),
                valid_until=time.monotonic() + self.cfg.command_ttl_s,
                source=self.cfg.name,
            ),
        )
        self.counters["commands"] += 1

    def teardown(self) -> None:
        self.sim.close()


NODE = ExpertNode

if __name__ == "__main__":
    raise SystemExit(run_node(ExpertNode))

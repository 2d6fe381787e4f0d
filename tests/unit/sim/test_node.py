"""The sim backend node in-process: episodes do not leak pybullet clients."""

from __future__ import annotations

from pathlib import Path

from agent.pybullet_quiet import pybullet as p
from sim.node import SimNode, SimNodeConfig


def connected_clients() -> int:
    """How many pybullet clients this process has open (connect takes the lowest free id)."""
    return sum(p.getConnectionInfo(i)["isConnected"] for i in range(64))


def test_resets_close_the_expert_ik_clients(tmp_path: Path) -> None:
    cfg = SimNodeConfig(
        name="sim",
        publish=f"ipc://{tmp_path}/sim.pub",
        inputs={"cmd.safe": f"ipc://{tmp_path}/safety.pub"},
        task="navigate",
        render=False,
        image_size=[8, 8],
    )
    node = SimNode(cfg)
    before = connected_clients()
    try:
        node.setup()
        rpc = node.rpc_handlers()
        rpc["expert_action"]({})
        during = connected_clients()  # the world's client and the expert's IK client
        for seed in range(5):
            rpc["reset"]({"task": "navigate", "seed": seed})
            rpc["expert_action"]({})
        assert connected_clients() == during
    finally:
        node.teardown()
        node.close()
    assert connected_clients() == before

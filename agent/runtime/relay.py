"""A pass-through relay node: republishes each valid message of one topic under another name."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runtime.node import Node, NodeConfig, run_node
from agent.runtime.schema import Message


@dataclass
class RelayConfig(NodeConfig):
    input: str = "in"
    output: str = "out"

    def check(self) -> None:
        super().check()
        if self.input not in self.inputs:
            raise ValueError(f"key 'input' = {self.input!r} is not one of 'inputs' {sorted(self.inputs)}")


class RelayNode(Node):
    """Forwards messages unchanged but for seq (source stamps kept); the baseline hop for benchmarks."""

    config_cls = RelayConfig

    def __init__(self, config: RelayConfig) -> None:
        super().__init__(config)
        self.on(config.input, self._forward, Message)  # any type: forwarded as is

    def _forward(self, msg: Message) -> None:
        self.publish(self.config.output, msg)  # type: ignore[attr-defined]
        self.counters["forwarded"] += 1


NODE = RelayNode

if __name__ == "__main__":
    raise SystemExit(run_node(RelayNode))

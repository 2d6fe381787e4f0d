"""`python -m agent.perception --config configs/perception/default.yaml`: the perception node."""

from agent.perception.node import PerceptionNode
from agent.runtime.node import run_node

NODE = PerceptionNode

if __name__ == "__main__":
    raise SystemExit(run_node(PerceptionNode))

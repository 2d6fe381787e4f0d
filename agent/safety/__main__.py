"""`python -m agent.safety --config FILE`: run the safety node."""

from agent.runtime.node import run_node
from agent.safety.node import SafetyNode

raise SystemExit(run_node(SafetyNode))

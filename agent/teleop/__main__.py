"""`python -m agent.teleop --config FILE`: run the teleop node."""

from agent.runtime.node import run_node
from agent.teleop.node import TeleopNode

raise SystemExit(run_node(TeleopNode))

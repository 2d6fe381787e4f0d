from agent.runtime.node import run_node
from agent.view.node import ViewNode

raise SystemExit(run_node(ViewNode))

"""Adds a view node to a loaded launch graph (amibot launch FILE --view / --view-save / --view-serve)."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.config import ConfigError
from agent.runtime.graph import LaunchSpec, NodeSpec, RestartPolicy, validate
from agent.view.config import VIEW_TOPICS

VIEW_NODE = "view"


def add_view(spec: LaunchSpec, *, save: str = "", spawn: bool = False, serve: bool = False, source: str) -> NodeSpec:
    """Append an optional view node subscribed to every topic of the graph it can show, then re-validate."""
    if any(n.name == VIEW_NODE for n in spec.nodes):
        raise ConfigError(f"{source}: the graph already has a node named '{VIEW_NODE}'")
    published = {t for n in spec.nodes for t in n.publishes}
    backend = next((n for n in spec.nodes if n.role == "backend" and n.rpc), None)
    params: dict[str, object] = {"save": str(Path(save).resolve()) if save else "", "spawn": spawn, "serve": serve}
    if backend is not None:
        params["backend_rpc"] = backend.rpc
    node = NodeSpec(
        name=VIEW_NODE,
        module="agent.view.node",
        subscribes=[t for t in VIEW_TOPICS if t in published],
        params=params,
        publish=f"ipc://{spec.run_dir}/{VIEW_NODE}.pub",
        required=False,  # the view's death never ends the run
        restart=RestartPolicy(policy="on-failure", max_restarts=3, backoff_s=0.5),
        after=[backend.name] if backend is not None else [],
    )
    spec.nodes.append(node)
    validate(spec, source=source)
    return node

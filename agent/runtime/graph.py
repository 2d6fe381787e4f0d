"""Declarative process graphs (launch/*.yaml): load, resolve endpoints, validate before starting."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.runtime.config import ConfigError, from_dict, merge, parse_overrides, read_yaml
from agent.runtime.node import Node

log = logging.getLogger("amibot.launch")

MIN_HEARTBEAT_TIMEOUT_S = 0.3


@dataclass
class RestartPolicy:
    """What the launcher does when a node exits: never restart, or restart on failure with backoff."""

    policy: Literal["never", "on-failure", "always"] = "never"
    max_restarts: int = 3
    backoff_s: float = 0.5  # doubles after each restart

    def check(self) -> None:
        if self.max_restarts < 0 or self.backoff_s < 0:
            raise ValueError("restart.max_restarts and restart.backoff_s must be >= 0")


@dataclass
class NodeSpec:
    """One process of the graph."""

    name: str
    module: str  # python -m MODULE; the module defines NODE = <Node subclass>
    publishes: list[str] = field(default_factory=list)  # topics this node produces
    subscribes: list[str] = field(default_factory=list)  # topics it consumes
    config: str = ""  # optional YAML of node parameters
    params: dict[str, Any] = field(default_factory=dict)  # overrides on top of config
    publish: str = ""  # endpoint; default ipc://<run_dir>/<name>.pub
    rpc: str = ""  # endpoint of its request/reply server; "auto" = ipc in the run dir
    required: bool = True  # a required node's death brings the whole graph down
    role: Literal["node", "backend"] = "node"  # a backend is commanded to stop before shutdown
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    after: list[str] = field(default_factory=list)  # extra start-order dependencies
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 3.0
    heartbeat_timeout_s: float = 3.0  # a ready node silent this long is treated as dead (killed)

    def check(self) -> None:
        if self.heartbeat_timeout_s < MIN_HEARTBEAT_TIMEOUT_S:
            raise ValueError(
                f"key 'heartbeat_timeout_s' = {self.heartbeat_timeout_s} of node '{self.name}': must be >= "
                f"{MIN_HEARTBEAT_TIMEOUT_S} (three periods of the slowest heartbeat, 10 Hz)"
            )


@dataclass
class LaunchSpec:
    """A whole process graph."""

    name: str
    nodes: list[NodeSpec]
    run_dir: str = ""  # where sockets, generated configs and logs go; default /tmp/amibot-<name>-<pid>
    security: dict[str, str] = field(default_factory=dict)  # {keys_dir: DIR} turns CurveZMQ on
    description: str = ""


def load_launch(path: Path, overrides: list[str] = ()) -> LaunchSpec:  # type: ignore[assignment]
    """Parse a launch file; `--set NODE.KEY=VALUE` overrides a node's params."""
    data = read_yaml(path)
    extra = parse_overrides(overrides)
    spec = from_dict(LaunchSpec, data, source=str(path))
    by_name = {n.name: n for n in spec.nodes}
    for node_name, params in extra.items():
        if node_name not in by_name:
            raise ConfigError(f"--set {node_name}...: no node '{node_name}' in {path}; nodes: {', '.join(by_name)}")
        if not isinstance(params, dict):
            raise ConfigError(f"--set {node_name}=...: expected --set {node_name}.KEY=VALUE")
        by_name[node_name].params = merge(by_name[node_name].params, params)
    if not spec.run_dir:
        spec.run_dir = f"/tmp/amibot-{spec.name}-{os.getpid()}"
    for node in spec.nodes:
        if not node.publish:
            node.publish = f"ipc://{spec.run_dir}/{node.name}.pub"
        if node.rpc == "auto":
            node.rpc = f"ipc://{spec.run_dir}/{node.name}.rpc"
    validate(spec, source=str(path))
    for line in advice(spec):
        log.warning("%s: %s", path, line)
    return spec


def advice(spec: LaunchSpec) -> list[str]:
    """Warnings about a valid graph: a required node (not a backend: that is the robot) whose outputs no
    other required node consumes; its death would end the run although nothing needed it."""
    needed = {t for n in spec.nodes if n.required for t in n.subscribes if t not in n.publishes}
    return [
        f"node '{n.name}' is required, but no required node consumes its outputs ({', '.join(n.publishes)}); "
        "consider 'required: false' with a restart policy"
        for n in spec.nodes
        if n.required and n.role != "backend" and n.publishes and not needed & set(n.publishes)
    ]


def validate(spec: LaunchSpec, *, source: str) -> None:
    """Check the whole graph; raise ConfigError on the first problem found."""
    names = [n.name for n in spec.nodes]
    if not names:
        raise ConfigError(f"{source}: the graph has no nodes")
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"{source}: node name(s) used twice: {', '.join(sorted(dup))}")
    producers: dict[str, str] = {}
    for node in spec.nodes:
        for topic in node.publishes:
            if topic in producers:
                raise ConfigError(
                    f"{source}: topic '{topic}' is published by both '{producers[topic]}' and '{node.name}'"
                )
            producers[topic] = node.name
    for node in spec.nodes:
        for topic in node.subscribes:
            if topic not in producers:
                known = ", ".join(sorted(producers)) or "none"
                raise ConfigError(
                    f"{source}: node '{node.name}' subscribes to '{topic}', which no node publishes "
                    f"(published: {known})"
                )
        for dep in node.after:
            if dep not in names:
                raise ConfigError(f"{source}: node '{node.name}' has after: '{dep}', which is not a node")
    _check_endpoints(spec, source)
    for node in spec.nodes:
        node_config(spec, node, source=source)  # builds and type-checks each node's config


def _check_endpoints(spec: LaunchSpec, source: str) -> None:
    owners: dict[str, str] = {}
    for node in spec.nodes:
        for kind, endpoint in (("publish", node.publish), ("rpc", node.rpc)):
            if not endpoint:
                continue
            key = _endpoint_key(endpoint)
            if key in owners:
                raise ConfigError(f"{source}: {node.name}.{kind} {endpoint} clashes with {owners[key]}")
            owners[key] = f"{node.name}.{kind} ({endpoint})"
            if endpoint.startswith("tcp://"):
                _check_port_free(endpoint, f"{source}: {node.name}.{kind}")


def _endpoint_key(endpoint: str) -> str:
    if endpoint.startswith("tcp://"):
        return "tcp:" + endpoint.rsplit(":", 1)[-1]  # a port clashes whatever the interface
    return endpoint


def _check_port_free(endpoint: str, where: str) -> None:
    host, _, port = endpoint[len("tcp://") :].rpartition(":")
    host = "0.0.0.0" if host in ("*", "") else host
    if not port.isdigit():
        raise ConfigError(f"{where}: bad tcp endpoint {endpoint!r} (tcp://HOST:PORT)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise ConfigError(f"{where}: cannot use {endpoint}: {exc.strerror}") from None


def node_class(spec: NodeSpec, *, source: str) -> type[Node]:
    """The Node subclass a module declares as NODE; errors name the node and module."""
    try:
        found = importlib.util.find_spec(spec.module)
    except ModuleNotFoundError:
        found = None
    if found is None:
        raise ConfigError(f"{source}: node '{spec.name}': module '{spec.module}' not found")
    module = importlib.import_module(spec.module)
    cls = getattr(module, "NODE", None)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ConfigError(f"{source}: node '{spec.name}': module '{spec.module}' defines no NODE = <Node subclass>")
    return cls


def node_config(spec: LaunchSpec, node: NodeSpec, *, source: str) -> dict[str, Any]:
    """The full, validated config mapping the launcher hands to a node's process."""
    cls = node_class(node, source=source)
    data = read_yaml(Path(node.config)) if node.config else {}
    endpoints = {n.name: n.publish for n in spec.nodes}
    producers = {t: n.name for n in spec.nodes for t in n.publishes}
    wiring: dict[str, Any] = {
        "name": node.name,
        "publish": node.publish,
        "rpc": node.rpc,
        "inputs": {t: endpoints[producers[t]] for t in node.subscribes},
        "peers": {endpoints[producers[t]]: producers[t] for t in node.subscribes}
        | {n.rpc: n.name for n in spec.nodes if n.rpc},  # rpc endpoint -> serving node, for its key
    }
    if spec.security:
        wiring["security"] = spec.security
    merged = merge(merge(data, _substitute(spec, node.params, source)), wiring)
    from_dict(cls.config_cls, merged, source=f"{source}: node '{node.name}'")
    return merged


_REF = re.compile(r"\{(\w+)\.(rpc|publish)\}")
_PARAM_REF = re.compile(r"^\{(\w+)\.params\.([\w.]+)\}$")


def _substitute(spec: LaunchSpec, value: Any, source: str) -> Any:
    """Resolve references in params: '{NODE.rpc}' / '{NODE.publish}' inside strings become that
    node's endpoint; a value that is exactly '{NODE.params.KEY}' becomes that node's final
    parameter (config file + params), with its type, so one --set reaches every node that needs it."""
    if isinstance(value, dict):
        return {k: _substitute(spec, v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(spec, v, source) for v in value]
    if not isinstance(value, str):
        return value
    nodes = {n.name: n for n in spec.nodes}
    if m := _PARAM_REF.match(value):
        node = nodes.get(m.group(1))
        if node is None:
            raise ConfigError(f"{source}: '{value}' names no node '{m.group(1)}'")
        found: Any = merge(read_yaml(Path(node.config)) if node.config else {}, node.params)
        for part in m.group(2).split("."):
            if not isinstance(found, dict) or part not in found:
                raise ConfigError(f"{source}: '{value}': node '{node.name}' has no parameter '{m.group(2)}'")
            found = found[part]
        return found

    def endpoint(m: re.Match[str]) -> str:
        node = nodes.get(m.group(1))
        if node is None or not getattr(node, m.group(2)):
            raise ConfigError(f"{source}: '{m.group(0)}' names no node with a {m.group(2)} endpoint")
        return getattr(node, m.group(2))

    return _REF.sub(endpoint, value)


def start_order(spec: LaunchSpec) -> list[NodeSpec]:
    """Producers before consumers (and `after` first); cycles broken in declaration order."""
    producers = {t: n.name for n in spec.nodes for t in n.publishes}
    deps = {n.name: {producers[t] for t in n.subscribes} | set(n.after) for n in spec.nodes}
    for name in deps:
        deps[name].discard(name)
    order: list[NodeSpec] = []
    remaining = list(spec.nodes)
    while remaining:
        started = {n.name for n in order}
        pick = next((n for n in remaining if deps[n.name] <= started), None)
        if pick is None:  # a cycle (sim <-> controller): take the first declared
            explicit = [n for n in remaining if set(n.after) <= started]
            pick = (explicit or remaining)[0]
        order.append(pick)
        remaining.remove(pick)
    return order

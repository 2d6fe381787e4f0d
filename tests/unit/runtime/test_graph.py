"""Launch-graph validation: every class of mistake is a clear error before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.runtime.config import ConfigError
from agent.runtime.graph import load_launch, start_order

TALKER = "  - {name: talker, module: tests.fixtures.talker, publishes: [cmd]}\n"
LISTENER = "  - {name: listener, module: tests.fixtures.listener, subscribes: [cmd]}\n"


def graph(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "g.yaml"
    path.write_text(f"name: g\nrun_dir: {tmp_path}/run\nnodes:\n{body}")
    return path


def fails(tmp_path: Path, body: str, *words: str, overrides: list[str] = ()) -> None:  # type: ignore[assignment]
    path = graph(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_launch(path, list(overrides))
    for word in words:
        assert word in str(info.value), str(info.value)


def test_valid_graph_resolves_endpoints_and_order(tmp_path: Path) -> None:
    spec = load_launch(graph(tmp_path, LISTENER + TALKER))
    assert [n.name for n in start_order(spec)] == ["talker", "listener"]
    assert spec.nodes[1].publish == f"ipc://{tmp_path}/run/talker.pub"


def test_unknown_module(tmp_path: Path) -> None:
    fails(tmp_path, "  - {name: x, module: agent.nothing_here}\n", "node 'x'", "module 'agent.nothing_here' not found")


def test_module_without_node(tmp_path: Path) -> None:
    fails(tmp_path, "  - {name: x, module: agent.runtime.codec}\n", "defines no NODE")


def test_unpublished_topic(tmp_path: Path) -> None:
    fails(tmp_path, LISTENER, "'listener' subscribes to 'cmd', which no node publishes")


def test_topic_with_two_publishers(tmp_path: Path) -> None:
    fails(tmp_path, TALKER + TALKER.replace("name: talker", "name: t2"), "'cmd' is published by both")


def test_duplicate_node_names(tmp_path: Path) -> None:
    fails(tmp_path, TALKER + TALKER.replace("publishes: [cmd]", "publishes: [x]"), "used twice: talker")


def test_endpoint_clash(tmp_path: Path) -> None:
    body = TALKER.replace("}", ", publish: 'tcp://127.0.0.1:47400'}") + LISTENER.replace(
        "}", ", publish: 'tcp://0.0.0.0:47400'}"
    )
    fails(tmp_path, body, "clashes with talker.publish")


def test_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        fails(
            tmp_path,
            TALKER.replace("}", f", publish: 'tcp://127.0.0.1:{port}'}}"),
            f"cannot use tcp://127.0.0.1:{port}",
        )


def test_bad_node_params_name_node_and_key(tmp_path: Path) -> None:
    fails(
        tmp_path, TALKER.replace("}", ", params: {rate_hz: fast}}"), "node 'talker'", "key 'rate_hz'", "expected float"
    )
    fails(tmp_path, TALKER.replace("}", ", params: {speed: 3}}"), "unknown key 'speed'")


def test_overrides_target_nodes(tmp_path: Path) -> None:
    spec = load_launch(graph(tmp_path, TALKER), ["talker.rate_hz=5"])
    assert spec.nodes[0].params == {"rate_hz": 5}
    fails(tmp_path, TALKER, "no node 'ghost'", overrides=["ghost.rate_hz=5"])


def test_unknown_launch_key_and_bad_restart(tmp_path: Path) -> None:
    fails(tmp_path, TALKER.replace("}", ", requird: false}"), "unknown key 'nodes[0].requird'")
    fails(tmp_path, TALKER.replace("}", ", restart: {policy: sometimes}}"), "restart.policy")


def test_cycles_start_in_declaration_order(tmp_path: Path) -> None:
    body = (
        "  - {name: a, module: tests.fixtures.listener, publishes: [x], subscribes: [cmd]}\n"
        "  - {name: b, module: tests.fixtures.talker, publishes: [cmd], subscribes: [x]}\n"
    )
    spec = load_launch(graph(tmp_path, body))
    assert [n.name for n in start_order(spec)] == ["a", "b"]


def test_param_references_resolve_with_type_and_follow_overrides(tmp_path: Path) -> None:
    from agent.runtime.graph import node_config

    body = TALKER.replace("}", ", params: {rate_hz: 20}}") + LISTENER.replace(
        "}", ", rpc: auto, params: {count: '{talker.params.rate_hz}', record: '{listener.rpc}'}}"
    )
    spec = load_launch(graph(tmp_path, body), ["talker.rate_hz=7"])
    cfg = node_config(spec, spec.nodes[1], source="t")
    assert cfg["count"] == 7 and cfg["record"] == f"ipc://{tmp_path}/run/listener.rpc"
    fails(tmp_path, body.replace("talker.params.rate_hz", "talker.params.nope"), "has no parameter 'nope'")


def test_heartbeat_timeout_is_validated(tmp_path: Path) -> None:
    fails(
        tmp_path, TALKER.replace("}", ", heartbeat_timeout_s: 0.1}"), "heartbeat_timeout_s", "node 'talker'", ">= 0.3"
    )


def test_a_required_node_nobody_required_consumes_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from agent.runtime.graph import advice

    body = TALKER + LISTENER.replace("}", ", publishes: [seen]}")
    with caplog.at_level("WARNING", logger="amibot.launch"):  # what `amibot launch --check` shows
        spec = load_launch(graph(tmp_path, body))
    assert advice(spec) == [
        "node 'listener' is required, but no required node consumes its outputs (seen); "
        "consider 'required: false' with a restart policy"
    ]
    assert "g.yaml: node 'listener' is required" in caplog.text
    optional_consumer = TALKER + LISTENER.replace("}", ", required: false}")
    assert "node 'talker' is required" in advice(load_launch(graph(tmp_path, optional_consumer)))[0]
    backend = TALKER.replace("}", ", role: backend}") + LISTENER.replace("}", ", required: false}")
    assert advice(load_launch(graph(tmp_path, backend))) == []  # a backend is the robot: always needed


def test_the_demo_graph_has_no_needlessly_required_node() -> None:
    from agent.runtime.graph import advice

    assert advice(load_launch(Path(__file__).resolve().parents[3] / "launch/sim_fetch.yaml")) == []

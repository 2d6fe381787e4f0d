"""RPC clients in a CurveZMQ graph: nodes call each other with the graph's keys (Node.rpc_client), and the
command-line clients (`amibot call`, `amibot estop --rpc`) take --keys DIR and say clearly what is missing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import cli
from agent.runtime.bus import RpcClient, RpcTimeout
from agent.runtime.config import from_dict
from agent.runtime.graph import load_launch, node_config
from agent.runtime.node import Node
from agent.safety import estop_cli
from agent.safety.estop import EstopLatch
from tests.fixtures.nodes import Listener, Talker


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[tuple[Path, Node, Node]]:
    """Keys for talker, listener and operator; both nodes run in a thread (the listener serves rpc)."""
    assert cli.main(["keys", "talker", "listener", "operator", "--dir", str(tmp_path / "keys")]) == 0
    (tmp_path / "g.yaml").write_text(f"""name: g
run_dir: {tmp_path}/run
security: {{keys_dir: {tmp_path}/keys}}
nodes:
  - {{name: talker, module: tests.fixtures.talker, publishes: [cmd]}}
  - {{name: listener, module: tests.fixtures.listener, subscribes: [cmd], rpc: auto}}
""")
    spec = load_launch(tmp_path / "g.yaml")
    (tmp_path / "run").mkdir()
    talker_spec, listener_spec = spec.nodes
    talker = Talker(from_dict(Talker.config_cls, node_config(spec, talker_spec, source="t")))
    listener = Listener(from_dict(Listener.config_cls, node_config(spec, listener_spec, source="t")))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            talker.spin_once(0.005)
            listener.spin_once(0.005)

    thread = threading.Thread(target=serve)
    thread.start()
    yield tmp_path, talker, listener
    stop.set()
    thread.join()
    talker.close()
    listener.close()


def test_a_node_calls_another_with_the_graph_keys(graph: tuple[Path, Node, Node]) -> None:
    _, talker, listener = graph
    assert talker.config.peers[listener.config.rpc] == "listener"
    client = talker.rpc_client(listener.config.rpc)
    assert client.call("ping", timeout=2.0) == {"node": "listener"}
    client.close()
    plain = RpcClient(listener.config.rpc)
    with pytest.raises(RpcTimeout):
        plain.call("ping", timeout=0.2, retries=0)
    plain.close()


def test_amibot_call_uses_keys_and_says_what_is_missing(
    graph: tuple[Path, Node, Node], capsys: pytest.CaptureFixture[str]
) -> None:
    tmp, _, listener = graph
    ep, keys = listener.config.rpc, str(tmp / "keys")
    assert cli.main(["call", ep, "ping", "--keys", keys]) == 0  # as 'operator', server 'listener' from the ipc name
    assert '"node": "listener"' in capsys.readouterr().out
    assert cli.main(["call", ep, "ping", "--timeout", "0.2"]) == 1
    assert "--keys DIR" in capsys.readouterr().err
    assert cli.main(["call", ep, "ping", "--keys", keys, "--as", "nobody"]) == 2
    err = capsys.readouterr().err
    assert f"{keys}/nobody.key_secret" in err and "amibot keys nobody" in err
    assert cli.main(["call", ep, "ping", "--keys", keys, "--server", "ghost"]) == 2
    assert f"{keys}/ghost.key" in capsys.readouterr().err
    assert cli.main(["call", "tcp://127.0.0.1:47399", "ping", "--keys", keys]) == 2  # tcp: no name to derive
    assert "--server NODE" in capsys.readouterr().err


def test_amibot_topic_echo_uses_keys(graph: tuple[Path, Node, Node], capsys: pytest.CaptureFixture[str]) -> None:
    tmp, talker, _ = graph
    args = ["topic", "echo", talker.config.publish, "cmd", "--count", "1", "--duration", "10"]
    assert cli.main([*args, "--keys", str(tmp / "keys")]) == 0  # server 'talker' from ipc://.../talker.pub
    assert capsys.readouterr().out.startswith("Command ")


def test_estop_with_a_missing_key_still_latches_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latch = tmp_path / "estop.json"
    args = ["--file", str(latch), "--rpc", f"ipc://{tmp_path}/safety.rpc", "--keys", str(tmp_path / "keys")]
    assert estop_cli.main([*args, "--reason", "test"]) == 2
    assert f"{tmp_path}/keys/operator.key_secret" in capsys.readouterr().err
    assert EstopLatch(str(latch)).read().tripped

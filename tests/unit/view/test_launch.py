"""amibot launch --view*: the view node added to a loaded graph, validated with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.config import ConfigError, from_dict
from agent.runtime.graph import load_launch, node_config
from agent.view.config import ViewConfig
from agent.view.launch import add_view

REPO = Path(__file__).resolve().parents[3]


def test_the_view_subscribes_to_the_topics_the_graph_has_and_is_optional(tmp_path: Path) -> None:
    spec = load_launch(REPO / "launch/sim_fetch.yaml")
    node = add_view(spec, save="out.rrd", source="test")
    assert node.subscribes == ["obs", "latent", "cmd.safe", "safety_events", "task_status"]  # no surprise here
    assert not node.required and node.restart.policy == "on-failure" and node.after == ["sim"]
    sim = next(n for n in spec.nodes if n.name == "sim")
    config = from_dict(ViewConfig, node_config(spec, node, source="test"), source="test")
    assert config.backend_rpc == sim.rpc and config.save == str(Path("out.rrd").resolve())
    with pytest.raises(ConfigError, match="already has a node named 'view'"):
        add_view(spec, serve=True, source="test")


def test_a_view_without_an_output_or_with_an_unknown_topic_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one of 'save'"):
        add_view(load_launch(REPO / "launch/sim_fetch.yaml"), source="test")
    with pytest.raises(ValueError, match=r"cannot show \['cmd.proposed'\]"):
        ViewConfig(publish="ipc:///tmp/x", inputs={"cmd.proposed": "ipc:///tmp/y"}, save="a.rrd").check()

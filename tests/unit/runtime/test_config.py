"""Typed config loading: errors name the key, the file and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from agent.runtime.config import ConfigError, load_config, parse_overrides


@dataclass
class Inner:
    gain: float = 1.0


@dataclass
class Example:
    name: str
    rate_hz: float = 10.0
    mode: Literal["fast", "slow"] = "fast"
    joints: list[float] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)
    limit: int | None = None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "example.yaml"
    path.write_text(text)
    return path


def test_loads_and_coerces(tmp_path: Path) -> None:
    cfg = load_config(Example, write(tmp_path, "name: a\nrate_hz: 20\njoints: [1, 2.5]\ninner: {gain: 3}\n"))
    assert cfg == Example(name="a", rate_hz=20.0, joints=[1.0, 2.5], inner=Inner(3.0))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: a\nrate: 3\n", ["unknown key 'rate'", "allowed: name: str, rate_hz: float"]),
        ("rate_hz: 3\n", ["missing required key 'name'"]),
        ("name: a\nrate_hz: fast\n", ["key 'rate_hz'", "expected float"]),
        ("name: a\nmode: medium\n", ["key 'mode'", "one of 'fast', 'slow'"]),
        ("name: a\ninner: {gian: 2}\n", ["unknown key 'inner.gian'"]),
        ("name: a\njoints: [1, x]\n", ["key 'joints[1]'"]),
        ("name: a\nlimit: true\n", ["key 'limit'"]),
        ("name: [unclosed\n", ["invalid YAML"]),
        ("- just\n- a list\n", ["top level must be a mapping"]),
    ],
)
def test_errors_name_key_and_file(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(Example, path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found: /nonexistent.yaml"):
        load_config(Example, Path("/nonexistent.yaml"))


def test_overrides(tmp_path: Path) -> None:
    cfg = load_config(Example, write(tmp_path, "name: a\n"), ["inner.gain=0.5", "mode=slow", "limit=4"])
    assert cfg.inner.gain == 0.5 and cfg.mode == "slow" and cfg.limit == 4
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["nothing"])

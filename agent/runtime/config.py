"""Typed configs: dataclasses loaded from YAML, validated with errors that name key, file and type."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from agent.resources import resolve

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the key, the source and what was expected."""


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    bad = ConfigError(f"{source}: key '{key}' = {value!r}: expected {_type_name(tp)}")
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value in args:
            return value
        raise bad
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return from_dict(tp, value, source=source, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise bad
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        ktp, vtp = args if args else (Any, Any)
        return {_coerce(k, ktp, key, source): _coerce(v, vtp, f"{key}.{k}", source) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads exponents without a dot, '1e-4', as strings
            try:
                return float(value)
            except ValueError:
                raise bad from None
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise bad
    if tp is dict and isinstance(value, dict):
        return value
    if tp is list and isinstance(value, list):
        return value
    raise bad


def from_dict(cls: type[T], data: dict[str, Any], *, source: str = "<dict>", prefix: str = "") -> T:
    """Build dataclass cls from a mapping; unknown, missing or mistyped keys raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping for {prefix or cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        allowed = ", ".join(f"{name}: {_type_name(hints[name])}" for name in fields)
        raise ConfigError(f"{source}: unknown key '{prefix}{unknown[0]}' for {cls.__name__}; allowed: {allowed}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], prefix + name, source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key '{prefix}{name}' ({_type_name(hints[name])})")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return obj


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from a file (a relative path missing from the working directory is looked up in
    amibot's data: agent/resources.py), with errors that name the file (and line, for syntax errors)."""
    path = resolve(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Nested dict from 'a.b=value' strings; values are parsed as YAML scalars ('3' -> 3)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is already a value")
        node[parts[-1]] = value
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge; values in over win."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(cls: type[T], path: Path | None = None, overrides: Iterable[str] = ()) -> T:
    """Dataclass cls from a YAML file plus KEY=VALUE overrides."""
    data = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "<defaults>"
    extra = parse_overrides(overrides)
    if extra:
        source += " (+ --set overrides)"
    return from_dict(cls, merge(data, extra), source=source)

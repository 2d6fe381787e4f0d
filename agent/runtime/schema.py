"""Field specs and generic validation for typed message dataclasses."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


class MessageError(ValueError):
    """A message failed to decode or validate; `reason` is a short code used for counters."""

    def __init__(self, reason: str, detail: str, *, msg_type: str = "frame", field: str = "") -> None:
        self.reason = reason
        self.msg_type = msg_type
        self.field = field
        where = f"{msg_type}.{field}" if field else msg_type
        super().__init__(f"{reason}: {where}: {detail}")


@dataclass(frozen=True)
class ArraySpec:
    """Declared dtype/shape/limits of a numpy field. None in shape means any size."""

    dtype: str
    shape: tuple[int | None, ...]
    low: float | None = None
    high: float | None = None
    optional: bool = False
    max_elems: int = 16_000_000
    max_dim: int | None = None  # largest size of any free (None) axis
    like: str | None = None  # another array field of the message this one must match in shape
    np_dtype: np.dtype = dataclasses.field(init=False, repr=False, compare=False)
    fixed: tuple[tuple[int, int], ...] = dataclasses.field(init=False, repr=False, compare=False)  # (axis, size)
    values_checked: bool = dataclasses.field(init=False, repr=False, compare=False)  # finiteness or range

    def __post_init__(self) -> None:
        object.__setattr__(self, "np_dtype", np.dtype(self.dtype))
        object.__setattr__(self, "fixed", tuple((i, s) for i, s in enumerate(self.shape) if s is not None))
        bounded = self.low is not None or self.high is not None
        object.__setattr__(self, "values_checked", self.np_dtype.kind == "f" or bounded)


@dataclass(frozen=True)
class ScalarSpec:
    """Declared type and range of a scalar (header) field."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None


def array(
    dtype: str,
    shape: tuple[int | None, ...],
    low: float | None = None,
    high: float | None = None,
    *,
    optional: bool = False,
    max_dim: int | None = None,
    like: str | None = None,
) -> Any:
    """Declare a numpy payload field."""
    spec = ArraySpec(dtype, shape, low, high, optional, max_dim=max_dim, like=like)
    return dataclasses.field(default=None, metadata={"array": spec})


def scalar(
    kind: type,
    default: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Declare a scalar header field with an optional range or choice set."""
    spec = ScalarSpec(kind, low, high, choices)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={"scalar": spec})
    return dataclasses.field(default=default, metadata={"scalar": spec})


@dataclass(kw_only=True)
class Message:
    """Base of every bus message: type name, schema version, sequence number and stamps."""

    TYPE: ClassVar[str] = "message"
    VERSION: ClassVar[int] = 1

    seq: int = 0
    stamp_mono: float = 0.0
    stamp_wall: float = 0.0

    @classmethod
    def array_fields(cls) -> list[tuple[str, ArraySpec]]:
        return _specs(cls)[0]

    @classmethod
    def scalar_fields(cls) -> list[tuple[str, ScalarSpec]]:
        return _specs(cls)[1]

    def validate(self) -> None:
        """Check every declared field; raise MessageError naming the first bad one."""
        for name, spec in self.array_fields():
            check_array(self.TYPE, name, spec, getattr(self, name))
        for name, spec in self.array_fields():
            if spec.like is not None:
                check_like(self.TYPE, name, spec.like, getattr(self, name), getattr(self, spec.like))
        for name, spec in self.scalar_fields():
            check_scalar(self.TYPE, name, spec, getattr(self, name))


_SPEC_CACHE: dict[type, tuple[list[tuple[str, ArraySpec]], list[tuple[str, ScalarSpec]]]] = {}
_SMALL = 64  # arrays up to this size are checked in plain Python (numpy call overhead dominates)


def _specs(cls: type) -> tuple[list[tuple[str, ArraySpec]], list[tuple[str, ScalarSpec]]]:
    """Declared array and scalar fields of a message class, computed once per class."""
    found = _SPEC_CACHE.get(cls)
    if found is None:
        fields = dataclasses.fields(cls)
        found = (
            [(f.name, f.metadata["array"]) for f in fields if "array" in f.metadata],
            [(f.name, f.metadata["scalar"]) for f in fields if "scalar" in f.metadata],
        )
        _SPEC_CACHE[cls] = found
    return found


def _fail(msg_type: str, name: str, reason: str, detail: str) -> MessageError:
    return MessageError(reason, detail, msg_type=msg_type, field=name)


def check_array(msg_type: str, name: str, spec: ArraySpec, value: Any) -> None:
    if value is None:
        if spec.optional:
            return
        raise _fail(msg_type, name, "missing", "required array is absent")
    if not isinstance(value, np.ndarray):
        raise _fail(msg_type, name, "dtype", f"expected numpy array, got {type(value).__name__}")
    if value.dtype != spec.np_dtype:
        raise _fail(msg_type, name, "dtype", f"expected {spec.dtype}, got {value.dtype}")
    check_contents(msg_type, name, spec, value)


def check_contents(msg_type: str, name: str, spec: ArraySpec, value: np.ndarray) -> None:
    """Shape, size, finiteness and range of an array already known to have the declared dtype."""
    shape = value.shape
    if len(shape) != len(spec.shape) or any(shape[axis] != size for axis, size in spec.fixed):
        want = tuple("*" if s is None else s for s in spec.shape)
        raise _fail(msg_type, name, "shape", f"expected {want}, got {value.shape}")
    if spec.max_dim is not None and shape and max(shape) > spec.max_dim:
        raise _fail(msg_type, name, "oversize", f"shape {shape}: a side > {spec.max_dim}")
    if value.size > spec.max_elems:
        raise _fail(msg_type, name, "oversize", f"{value.size} elements > {spec.max_elems}")
    if not spec.values_checked or not value.size:
        return
    if value.size <= _SMALL:
        items = value.ravel().tolist()
        if value.dtype.kind == "f" and not all(map(math.isfinite, items)):
            raise _fail(msg_type, name, "nonfinite", "contains NaN or inf")
        low, high = min(items), max(items)
    else:
        low, high = float(np.minimum.reduce(value, axis=None)), float(np.maximum.reduce(value, axis=None))
        if not (math.isfinite(low) and math.isfinite(high)):  # NaN and inf propagate into min/max
            raise _fail(msg_type, name, "nonfinite", "contains NaN or inf")
    if spec.low is not None and low < spec.low:
        raise _fail(msg_type, name, "range", f"min {low:.6g} < {spec.low}")
    if spec.high is not None and high > spec.high:
        raise _fail(msg_type, name, "range", f"max {high:.6g} > {spec.high}")


def check_like(msg_type: str, name: str, like: str, value: Any, other: Any) -> None:
    """An array declared `like` another must have that one's shape (or both be absent)."""
    if getattr(value, "shape", None) != getattr(other, "shape", None):
        shapes = f"{getattr(value, 'shape', None)} != {like} {getattr(other, 'shape', None)}"
        raise _fail(msg_type, name, "shape", shapes)


def check_scalar(msg_type: str, name: str, spec: ScalarSpec, value: Any) -> None:
    kind = spec.kind
    if type(value) is not kind:  # exact type first: bool is not an int here, int is a float
        if not (kind is float and type(value) is int):
            raise _fail(msg_type, name, "type", f"expected {kind.__name__}, got {type(value).__name__}")
    if kind is float and not math.isfinite(value):
        raise _fail(msg_type, name, "nonfinite", f"{value}")
    if kind is dict:
        _check_mapping(msg_type, name, value)
    if spec.choices is not None and value not in spec.choices:
        raise _fail(msg_type, name, "range", f"{value!r} not one of {spec.choices}")
    if spec.low is not None and value < spec.low:
        raise _fail(msg_type, name, "range", f"{value} < {spec.low}")
    if spec.high is not None and value > spec.high:
        raise _fail(msg_type, name, "range", f"{value} > {spec.high}")


def _check_mapping(msg_type: str, name: str, value: dict) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            raise _fail(msg_type, name, "type", f"key {key!r} is not a string")
        if isinstance(item, float) and not math.isfinite(item):
            raise _fail(msg_type, name, "nonfinite", f"[{key}] = {item}")
        if not isinstance(item, str | int | float | bool):
            raise _fail(msg_type, name, "type", f"[{key}] has type {type(item).__name__}")

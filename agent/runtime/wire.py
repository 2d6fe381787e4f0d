"""Wire schema of each message type as a msgspec struct, so a header is parsed and checked in C.

A header is one msgpack array: [type, version, seq, stamp_mono, stamp_wall, *fields], the fields in
the order the message class declares them. A scalar field is its value. A 1-D numeric array of at most
INLINE_ELEMS elements is a list of numbers, whose count and per-element range (finite, within the
field's limits and its dtype's) msgspec checks while parsing. Any other array is a frame reference
{d: dtype, s: shape} that stands for the next raw payload frame; msgspec checks its dtype name and
each dimension against the field's spec, numpy the values of float frames. An absent optional array
is nil.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal, Union

import msgspec
import numpy as np

from agent.runtime.schema import ArraySpec, Message, ScalarSpec

INLINE_ELEMS = 512  # 1-D numeric arrays up to this many elements ride in the header as numbers
WIRE_DTYPES = ("uint8", "int32", "int64", "float32", "float64", "bool")
ITEMSIZE = {name: np.dtype(name).itemsize for name in WIRE_DTYPES}
DTYPE_NAME = {np.dtype(name): name for name in WIRE_DTYPES}  # dtype.name is slow on the hot path
FLOAT_MAX = float(np.finfo(np.float64).max)  # bounds on both sides also reject NaN and inf
Finite = Annotated[float, msgspec.Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]


MAX_DIM = 2**31 - 1  # any one dimension of a framed array


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one message type maps to its header: field names in wire order and the array specs."""

    cls: type[Message]
    header: type[msgspec.Struct]
    fields: tuple[tuple[str, ArraySpec | None, bool], ...]  # (name, spec or None for scalars, inline) in wire order
    arrays: tuple[tuple[str, ArraySpec], ...]
    refs: dict[str, type[msgspec.Struct]]  # the frame reference struct of each array field
    scalars: dict[str, ScalarSpec]
    likes: tuple[tuple[str, str], ...]  # (field, the field whose shape it must have)


def inline(spec: ArraySpec) -> bool:
    """Whether arrays of this field may ride in the header as a list of numbers."""
    return len(spec.shape) == 1 and spec.np_dtype.kind in "biuf"


def _number(dtype: np.dtype, low: float | None, high: float | None) -> Any:
    """Element type of an inline array: the field's range within what its dtype can hold."""
    if dtype.kind == "b":
        return bool
    if dtype.kind == "f":
        limit = float(np.finfo(dtype).max)
        lo = -limit if low is None else max(-limit, low)
        hi = limit if high is None else min(limit, high)
        return Annotated[float, msgspec.Meta(ge=lo, le=hi)]
    info = np.iinfo(dtype)
    lo = int(info.min) if low is None else max(int(info.min), math.ceil(low))
    hi = int(info.max) if high is None else min(int(info.max), math.floor(high))
    return Annotated[int, msgspec.Meta(ge=lo, le=hi)]


def frame_ref(spec: ArraySpec, name: str) -> type[msgspec.Struct]:
    """The frame reference of one field: its dtype name and a shape of its rank, fixed axes fixed."""
    top = MAX_DIM if spec.max_dim is None else spec.max_dim
    dims = [Literal[size] if size is not None else Annotated[int, msgspec.Meta(ge=0, le=top)] for size in spec.shape]
    shape = tuple[tuple(dims)] if dims else tuple[()]
    return msgspec.defstruct(name, [("d", Literal[spec.dtype]), ("s", shape)], forbid_unknown_fields=True)


def _array_type(spec: ArraySpec, ref: type[msgspec.Struct]) -> Any:
    kind: Any = ref
    if inline(spec):
        elem = _number(spec.np_dtype, spec.low, spec.high)
        size = spec.shape[0]
        count = msgspec.Meta(min_length=size or 0, max_length=size or INLINE_ELEMS)
        kind = Union[Annotated[list[elem], count], ref]  # noqa: UP007 (typing forms msgspec reads)
    return kind | None if spec.optional else kind


def _scalar_type(spec: ScalarSpec) -> Any:
    if spec.choices is not None:
        return Literal[spec.choices]
    if spec.kind is float:
        lo = -FLOAT_MAX if spec.low is None else spec.low
        hi = FLOAT_MAX if spec.high is None else spec.high
        return Annotated[float, msgspec.Meta(ge=lo, le=hi)]
    if spec.kind is int:
        bounds = {k: v for k, v in (("ge", spec.low), ("le", spec.high)) if v is not None}
        return Annotated[int, msgspec.Meta(**bounds)] if bounds else int
    if spec.kind is dict:
        return dict[str, Union[str, int, Finite, bool]]  # noqa: UP007
    return spec.kind


def plan(cls: type[Message]) -> Plan:
    """The header struct of a message class, generated from its declared field specs."""
    fields: list[tuple[str, ArraySpec | None, bool]] = []
    scalars: dict[str, ScalarSpec] = {}
    types: list[tuple[str, Any]] = [
        ("v", Literal[cls.VERSION]),
        ("seq", Annotated[int, msgspec.Meta(ge=0)]),
        ("stamp_mono", Finite),
        ("stamp_wall", Finite),
    ]
    refs: dict[str, type[msgspec.Struct]] = {}
    for f in dataclasses.fields(cls):
        if "array" in f.metadata:
            spec = f.metadata["array"]
            fields.append((f.name, spec, inline(spec)))
            refs[f.name] = frame_ref(spec, f"{cls.__name__}_{f.name}_Frame")
            types.append((f.name, _array_type(spec, refs[f.name])))
        elif "scalar" in f.metadata:
            fields.append((f.name, None, False))
            scalars[f.name] = f.metadata["scalar"]
            types.append((f.name, _scalar_type(f.metadata["scalar"])))
    header = msgspec.defstruct(
        f"{cls.__name__}Header", types, tag=cls.TYPE, array_like=True, forbid_unknown_fields=True
    )
    arrays = tuple((name, spec) for name, spec, _ in fields if spec is not None)
    likes = tuple((name, spec.like) for name, spec in arrays if spec.like is not None)
    for name, like in likes:
        if like not in refs:
            raise TypeError(f"{cls.__name__}.{name}: like={like!r} is not an array field")
    return Plan(cls, header, tuple(fields), arrays, refs, scalars, likes)

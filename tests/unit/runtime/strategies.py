"""Hypothesis strategies that build any valid message from its declared field specs."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agent.runtime.messages import MESSAGE_TYPES
from agent.runtime.schema import ArraySpec, Message, ScalarSpec

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


def _array(spec: ArraySpec, sizes: dict[int, int]) -> st.SearchStrategy[np.ndarray]:
    shape = tuple(sizes.setdefault(i, 0) if s is None else s for i, s in enumerate(spec.shape))
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        lo = -1e6 if spec.low is None else spec.low
        hi = 1e6 if spec.high is None else spec.high
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=dtype.itemsize * 8)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    return hnp.arrays(dtype, shape, elements=elements)


def _scalar(spec: ScalarSpec) -> st.SearchStrategy:
    if spec.choices is not None:
        return st.sampled_from(spec.choices)
    if spec.kind is bool:
        return st.booleans()
    if spec.kind is int:
        return st.integers(int(spec.low or 0) if spec.low is not None else -(2**31), 2**31)
    if spec.kind is float:
        lo = -1e9 if spec.low is None else spec.low
        hi = 1e9 if spec.high is None else spec.high
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if spec.kind is str:
        return _text
    return st.dictionaries(
        _text,
        st.one_of(st.integers(-(2**31), 2**31), st.floats(allow_nan=False, allow_infinity=False), _text, st.booleans()),
        max_size=4,
    )


@st.composite
def messages(draw: st.DrawFn, cls: type[Message]) -> Message:
    """A valid instance of cls with random contents (shared wildcard sizes agree, e.g. arm/arm_vel)."""
    sizes = {0: draw(st.integers(1, 8)), 1: draw(st.integers(1, 8))}
    kwargs = {}
    for name, spec in cls.array_fields():
        if spec.optional and draw(st.booleans()):
            continue
        kwargs[name] = draw(_array(spec, dict(sizes)))
    for name, spec in cls.scalar_fields():
        kwargs[name] = draw(_scalar(spec))
    msg = cls(
        seq=draw(st.integers(0, 2**40)),
        stamp_mono=draw(st.floats(0, 1e6)),
        stamp_wall=draw(st.floats(0, 2e9)),
        **kwargs,
    )
    msg.validate()
    return msg


any_message = st.sampled_from(sorted(MESSAGE_TYPES.values(), key=lambda c: c.TYPE)).flatmap(messages)

"""Every message type survives encode -> decode exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.runtime.codec import decode, encode
from agent.runtime.messages import MESSAGE_TYPES
from tests.unit.runtime.strategies import messages


def _frames_as_bytes(frames: list) -> list[bytes]:
    return [f if isinstance(f, bytes) else np.ascontiguousarray(f).tobytes() for f in frames]


@pytest.mark.parametrize("cls", sorted(MESSAGE_TYPES.values(), key=lambda c: c.TYPE), ids=lambda c: c.TYPE)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls, data) -> None:
    msg = data.draw(messages(cls))
    topic, out = decode(_frames_as_bytes(encode("some.topic", msg)))
    assert topic == "some.topic"
    assert type(out) is cls
    for f in dataclasses.fields(cls):
        want, got = getattr(msg, f.name), getattr(out, f.name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        else:
            assert got == want, f.name


def test_payload_is_zero_copy_on_send() -> None:
    from agent.runtime.messages import Observation

    head = np.zeros((64, 64, 3), np.uint8)
    obs = Observation(head=head, base_pose=np.zeros(3), base_vel=np.zeros(3), arm=np.zeros(5), arm_vel=np.zeros(5))
    frames = encode("obs", obs)
    assert frames[2] is head  # the array itself goes to zmq, not a copy


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.one_of(st.floats(), st.integers(-(2**40), 2**40), st.booleans()), max_size=8),
    st.fixed_dictionaries({"d": st.sampled_from(["uint8", "float64", "object"]), "s": st.lists(st.integers(-1, 70))}),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), value=_values)
def test_a_changed_header_field_is_refused_or_still_valid(data, value) -> None:
    """The C fast path never lets through what the Python validator would refuse, and never crashes."""
    import msgpack

    from agent.runtime.schema import MessageError
    from tests.unit.runtime.strategies import any_message

    frames = _frames_as_bytes(encode("t", data.draw(any_message)))
    header = msgpack.unpackb(frames[1])
    header[data.draw(st.integers(1, len(header) - 1))] = value
    try:
        _, out = decode([frames[0], msgpack.packb(header), *frames[2:]])
    except MessageError:
        return
    out.validate()  # what got through passes the reference (Python) checks too

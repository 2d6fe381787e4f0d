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

"""Each class of malformed frame is rejected with a MessageError whose reason and text say what and where."""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack
import msgspec
import numpy as np
import pytest

from agent.runtime.codec import PLANS, decode, encode
from agent.runtime.fastpath import header_builder, message_builder
from agent.runtime.messages import Command, Observation
from agent.runtime.schema import Message, MessageError, array
from agent.runtime.wire import plan

BASE = ("type", "v", "seq", "mono", "wall")  # the header array starts with these, then the fields


def command(**kw) -> Command:
    args = dict(base_vel=np.array([0.1, 0.0, 0.2]), arm=np.zeros(5), gripper=0.5, valid_until=1.0, source="t")
    args.update(kw)
    return Command(**args)


def frames_of(msg, topic: str = "cmd", validate: bool = False) -> list[bytes]:
    return [f if isinstance(f, bytes) else f.tobytes() for f in encode(topic, msg, validate=validate)]


def header_of(frames: list[bytes]) -> list:
    return msgpack.unpackb(frames[1], raw=False)


def index(name: str, cls: type = Command) -> int:
    """Position of a base key or a field of cls in the header array."""
    names = [*BASE, *(field for field, _, _ in PLANS[cls].fields)]
    return names.index(name)


def with_header(frames: list[bytes], cls: type = Command, **changes) -> list[bytes]:
    header = header_of(frames)
    for name, value in changes.items():
        header[index(name, cls)] = value
    return [frames[0], msgpack.packb(header), *frames[2:]]


def rejects(frames, reason: str, *words: str, **kw) -> MessageError:
    with pytest.raises(MessageError) as info:
        decode(frames, **kw)
    assert info.value.reason == reason, str(info.value)
    for word in words:
        assert word in str(info.value)
    return info.value


def observation(side: int = 64) -> Observation:
    return Observation(
        head=np.zeros((side, side, 3), np.uint8),
        base_pose=np.zeros(3),
        base_vel=np.zeros(3),
        arm=np.zeros(5),
        arm_vel=np.zeros(5),
    )


def test_small_arrays_ride_in_the_header_and_images_get_frames() -> None:
    assert len(frames_of(command())) == 2
    assert header_of(frames_of(command()))[index("base_vel")] == [0.1, 0.0, 0.2]
    assert len(frames_of(observation())) == 3  # topic, header, head image
    assert header_of(frames_of(observation()))[index("head", Observation)] == {"d": "uint8", "s": [64, 64, 3]}
    assert len(frames_of(command(arm=np.zeros(600)), validate=True)) == 3  # past INLINE_ELEMS: its own frame


def test_truncated_multipart() -> None:
    rejects(frames_of(command())[:1], "truncated", "frame")
    rejects(frames_of(observation())[:2], "truncated", "observation", "1 array frame(s), got 0")
    rejects([*frames_of(observation()), b"extra"], "truncated", "observation", "1 array frame(s), got 2")


def test_truncated_payload_frame_and_inline_array() -> None:
    frames = frames_of(observation())
    frames[2] = frames[2][:-3]
    rejects(frames, "truncated", "observation.head", "needs 12288")
    frames = frames_of(command())
    rejects(with_header(frames, base_vel=[0.1, 0.0]), "shape", "command.base_vel", "(3,)")
    rejects(with_header(frames, base_vel="not numbers"), "bad_header", "command.base_vel", "neither")


def test_bad_msgpack_and_bad_header_shape() -> None:
    frames = frames_of(command())
    rejects([frames[0], b"\xc1\xff garbage", *frames[2:]], "bad_header", "msgpack")
    rejects([frames[0], msgpack.packb({"type": "command"}), *frames[2:]], "bad_header", "expected [type")
    rejects([frames[0], msgpack.packb([1, 2]), *frames[2:]], "bad_header", "expected [type")
    rejects(with_header(frames, seq=-4), "bad_header", "seq")
    rejects(with_header(frames, mono=float("nan")), "bad_header", "mono")


def test_unknown_type_and_version() -> None:
    frames = frames_of(command())
    rejects(with_header(frames, type="teleport"), "unknown_type", "teleport")
    rejects(with_header(frames, v=99), "bad_version", "99", "command")


def test_wrong_dtype_and_shape() -> None:
    with pytest.raises(MessageError, match="dtype: command.base_vel: expected float64, got float32"):
        encode("cmd", command(base_vel=np.zeros(3, np.float32)))  # the sender refuses it
    rejects(frames_of(command(base_vel=np.zeros(4))), "shape", "command.base_vel", "(3,)")
    rejects(with_header(frames_of(command()), arm=[0.0, True, 0.0]), "dtype", "command.arm", "True")
    frames = frames_of(observation())
    rejects(with_header(frames, Observation, head={"d": "object", "s": [64, 64, 3]}), "dtype", "not allowed")
    rejects(with_header(frames, Observation, head={"d": "float32", "s": [64, 64, 1]}), "dtype", "got float32")
    rejects(with_header(frames, Observation, head={"d": "uint8", "s": [64, 192, 1]}), "shape", "observation.head")
    rejects(frames_of(observation(2000)), "oversize", "observation.head", "1024")
    with pytest.raises(MessageError, match="oversize: observation.head"):
        encode("obs", observation(2000))  # the sender refuses it too


def test_arrays_declared_alike_must_match_in_shape() -> None:
    short_vel = observation()
    short_vel.arm_vel = np.zeros(4)
    rejects(frames_of(short_vel), "shape", "observation.arm_vel", "(4,) != arm (5,)")
    with pytest.raises(MessageError, match="shape: observation.arm_vel"):
        encode("obs", short_vel)
    long_arm = observation()  # framed arm (past INLINE_ELEMS) beside an inline arm_vel
    long_arm.arm = np.zeros(600)
    rejects(frames_of(long_arm), "shape", "observation.arm_vel", "(5,) != arm (600,)")


def test_nan_inf_and_range() -> None:
    rejects(frames_of(command(base_vel=np.array([np.nan, 0, 0]))), "nonfinite", "command.base_vel")
    rejects(frames_of(command(arm=np.array([0, 0, np.inf, 0, 0]))), "nonfinite", "command.arm")
    rejects(frames_of(command(arm=np.full(600, np.nan))), "nonfinite", "command.arm")  # framed: numpy checks it
    rejects(frames_of(command(base_vel=np.array([50.0, 0, 0]))), "range", "command.base_vel")
    rejects(frames_of(command(gripper=1.5)), "range", "command.gripper")
    rejects(frames_of(command(gripper=float("nan"))), "nonfinite", "command.gripper")
    rejects(frames_of(command(source=3)), "type", "command.source")
    rejects(frames_of(command(episode=True)), "type", "command.episode")


@pytest.mark.parametrize(
    "bad",
    [
        {"base_vel": np.array([np.nan, 0, 0])},
        {"gripper": 1.5},
        {"source": 3},
        {"arm": np.zeros((5, 1))},
        {"base_vel": [0.0, 0.0, 0.0]},
    ],
    ids=["nan", "range", "type", "shape", "not-ndarray"],
)
def test_the_sender_refuses_what_a_receiver_would(bad: dict) -> None:
    frames_reason = None
    try:
        decode(frames_of(command(**bad)))
    except MessageError as exc:
        frames_reason = exc.reason
    with pytest.raises(MessageError) as info:
        encode("cmd", command(**bad))
    assert frames_reason in (None, info.value.reason)


def test_extra_and_missing_fields() -> None:
    frames = frames_of(command())
    header = header_of(frames)
    rejects([frames[0], msgpack.packb([*header, 9])], "bad_header", "fields", "episode")
    rejects([frames[0], msgpack.packb(header[:-2])], "missing", "source", "episode")
    header[index("base_vel")] = None
    rejects([frames[0], msgpack.packb(header)], "missing", "command.base_vel")


def test_oversize() -> None:
    rejects(frames_of(observation(512)), "oversize", "bytes > limit", max_bytes=100_000)
    rejects([b"obs", b"\x80" * 70_000], "oversize", "header")


def test_stale() -> None:
    msg = command()
    msg.stamp_mono = time.monotonic() - 1.0
    rejects(frames_of(msg), "stale", "ms old", max_age=0.1)


def test_non_utf8_topic() -> None:
    frames = frames_of(command())
    rejects([b"\xff\xfe", *frames[1:]], "bad_topic")


def test_valid_message_passes_with_all_checks_on() -> None:
    msg = command()
    msg.stamp_mono = time.monotonic()
    topic, out = decode(frames_of(msg), max_age=1.0)
    assert topic == "cmd" and isinstance(out, Command) and out.gripper == 0.5


def test_framed_float_values_are_checked_by_sender_and_receiver() -> None:
    """A float array that always rides as a frame (2-D): its values never pass through msgspec."""

    @dataclass(kw_only=True)
    class Grid(Message):
        TYPE = "grid"
        cells: np.ndarray = array("float32", (None, 4), -1.0, 1.0)

    p = plan(Grid)
    header, build = header_builder(p), message_builder(p)
    with pytest.raises(MessageError, match="nonfinite: grid.cells"):
        header(Grid(cells=np.full((2, 4), np.nan, np.float32)), True)
    with pytest.raises(MessageError, match="range: grid.cells"):
        header(Grid(cells=np.full((2, 4), 3.0, np.float32)), True)
    h, frames = header(Grid(cells=np.full((2, 4), 3.0, np.float32)), False)
    parsed = msgspec.msgpack.decode(msgspec.msgpack.encode(h), type=p.header)
    with pytest.raises(MessageError, match="range: grid.cells"):
        build(parsed, [b"grid", b"", frames[0].tobytes()])
    good, frames = header(Grid(cells=np.full((2, 4), 0.5, np.float32)), True)
    parsed = msgspec.msgpack.decode(msgspec.msgpack.encode(good), type=p.header)
    assert build(parsed, [b"grid", b"", frames[0].tobytes()]).cells.shape == (2, 4)

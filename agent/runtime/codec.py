"""Wire format: multipart [topic, msgpack header, *raw numpy frames]; zero-copy, no pickle.

The header layout is in agent/runtime/wire.py. A valid header is parsed and range-checked in one C
call (msgspec); a header that fails is parsed again in Python only to say exactly what is wrong.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Union

import msgpack
import msgspec
import numpy as np
import zmq

from agent.runtime.fastpath import framed, header_builder, message_builder
from agent.runtime.messages import MESSAGE_TYPES
from agent.runtime.schema import ArraySpec, Message, MessageError, check_array, check_scalar
from agent.runtime.wire import INLINE_ELEMS, Plan, inline, plan

MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BYTES = 32 * 1024 * 1024

PLANS: dict[type[Message], Plan] = {cls: plan(cls) for cls in MESSAGE_TYPES.values()}
_HEADER = {cls: header_builder(p) for cls, p in PLANS.items()}
_BUILD = {p.header: message_builder(p) for p in PLANS.values()}
_DECODER = msgspec.msgpack.Decoder(Union[tuple(p.header for p in PLANS.values())])  # noqa: UP007
_ENCODER = msgspec.msgpack.Encoder()
Frame = zmq.Frame


def encode(topic: str, msg: Message, *, validate: bool = True) -> list[Any]:
    """Frames for one message. Array frames are the arrays' own buffers (no copy when contiguous).

    With validate, the header goes through the receiver's own checks first, so a bad message fails
    here with the same MessageError a receiver would count."""
    header, arrays = _HEADER[type(msg)](msg, validate)
    raw = _ENCODER.encode(header)
    if validate:
        try:
            _DECODER.decode(raw)
        except Exception as exc:  # msgspec's own errors, and UnicodeDecodeError for a bad string
            msg.validate()  # the precise reason; what it passes, the wire schema still refuses
            raise MessageError("bad_header", str(exc), msg_type=msg.TYPE) from None
    return [topic.encode(), raw, *arrays]


def decode(
    frames: Sequence[Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_age: float | None = None,
    now: float | None = None,
) -> tuple[str, Message]:
    """Topic and validated message from received frames, or MessageError with a reason code.

    Frames may be bytes or zmq.Frame; numpy fields are read-only (views on the frame buffers where framed).
    """
    if len(frames) < 2:
        raise MessageError("truncated", f"{len(frames)} frame(s), need topic and header")
    bufs = frames
    total = 0
    for f in frames:
        if type(f) is not bytes and type(f) is not Frame:
            bufs = [_buffer(f) for f in frames]
            total = sum(map(len, bufs))
            break
        total += len(f)
    if total > max_bytes:
        raise MessageError("oversize", f"{total} bytes > limit {max_bytes}")
    try:
        topic = bytes(bufs[0]).decode()
    except UnicodeDecodeError as exc:
        raise MessageError("bad_topic", f"topic is not UTF-8 ({exc.reason})") from None
    header = bufs[1]
    if len(header) > MAX_HEADER_BYTES:
        raise MessageError("oversize", f"header {len(header)} bytes > {MAX_HEADER_BYTES}")
    try:
        h = _DECODER.decode(header)
    except Exception as exc:  # msgspec's own errors, and UnicodeDecodeError for a bad string
        raise _diagnose(bufs, exc) from None
    msg = _BUILD[type(h)](h, bufs)
    if max_age is not None:
        age = (time.monotonic() if now is None else now) - msg.stamp_mono
        if age > max_age:
            raise MessageError("stale", f"{age * 1e3:.1f} ms old > {max_age * 1e3:.1f} ms", msg_type=msg.TYPE)
    return topic, msg


def _buffer(frame: Any) -> memoryview:
    buf = getattr(frame, "buffer", None)
    view = memoryview(frame) if buf is None else buf
    return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")


# ----- why a header failed the wire schema (cold path: only for rejects) -------------------------
def _diagnose(bufs: list[Any], exc: Exception) -> MessageError:
    """The precise MessageError for a header msgspec refused: which field, what is wrong."""
    try:
        _raise_reason(bufs)
    except MessageError as err:
        return err
    return MessageError("bad_header", f"refused by the wire schema: {exc}")


def _raise_reason(bufs: list[Any]) -> None:
    try:
        raw = msgpack.unpackb(bufs[1], raw=False, strict_map_key=True, max_array_len=4096, max_map_len=4096)
    except Exception as exc:  # msgpack raises several unrelated types for garbage input
        raise MessageError("bad_header", f"not msgpack ({type(exc).__name__}: {exc})") from None
    if type(raw) is not list or len(raw) < 5:
        raise MessageError("bad_header", f"header is {type(raw).__name__}, expected [type, v, seq, mono, wall, ...]")
    tag, version, seq, mono, wall = raw[:5]
    cls = MESSAGE_TYPES.get(tag) if type(tag) is str else None
    if cls is None:
        raise MessageError("unknown_type", f"type {tag!r}; known {sorted(MESSAGE_TYPES)}")
    if version != cls.VERSION:
        raise MessageError("bad_version", f"version {version!r}, this build speaks {cls.VERSION}", msg_type=cls.TYPE)
    if type(seq) is not int or seq < 0:
        raise MessageError("bad_header", f"seq {seq!r} is not a non-negative int", msg_type=cls.TYPE)
    for stamp in (mono, wall):
        if type(stamp) not in (int, float) or not math.isfinite(stamp):
            raise MessageError("bad_header", f"stamps mono={mono!r} wall={wall!r} not finite numbers",
                               msg_type=cls.TYPE)  # fmt: skip
    p = PLANS[cls]
    values, names = raw[5:], [name for name, _, _ in p.fields]
    if len(values) < len(names):
        raise MessageError("missing", f"fields {names[len(values) :]} absent", msg_type=cls.TYPE)
    if len(values) > len(names):
        raise MessageError("bad_header", f"{len(values)} fields, v{cls.VERSION} has {len(names)}: {names}",
                           msg_type=cls.TYPE)  # fmt: skip
    payload = iter(bufs[2:])
    for (name, spec, _), value in zip(p.fields, values, strict=True):
        if spec is None:
            check_scalar(cls.TYPE, name, p.scalars[name], value)
        elif value is None:
            check_array(cls.TYPE, name, spec, None)
        elif type(value) is list and inline(spec):
            check_array(cls.TYPE, name, spec, _numbers(cls.TYPE, name, spec, value))
        elif type(value) is dict and set(value) == {"d", "s"} and type(value["s"]) is list:
            buf = next(payload, None)
            if buf is None:
                raise MessageError("truncated", "header lists more array frames than arrived",
                                   msg_type=cls.TYPE, field=name)  # fmt: skip
            framed(cls.TYPE, name, spec, value["d"], value["s"], buf)
        else:
            raise MessageError("bad_header", f"{value!r:.60} is neither a list of numbers nor a frame reference",
                               msg_type=cls.TYPE, field=name)  # fmt: skip
    if next(payload, None) is not None:
        raise MessageError("truncated", "more payload frames than the header lists", msg_type=cls.TYPE)


def _numbers(msg_type: str, name: str, spec: ArraySpec, value: list[Any]) -> np.ndarray:
    """An inline list as the field's dtype, so the array checks can name what is wrong with it."""
    kind = spec.np_dtype.kind
    want = (bool,) if kind == "b" else (int, float) if kind == "f" else (int,)
    bad = next((v for v in value if type(v) not in want), None)
    if bad is not None or len(value) > INLINE_ELEMS:
        detail = f"element {bad!r} is not {spec.dtype}" if bad is not None else f"{len(value)} > {INLINE_ELEMS}"
        raise MessageError("dtype" if bad is not None else "oversize", detail, msg_type=msg_type, field=name)
    if spec.np_dtype.kind in "iu":
        info = np.iinfo(spec.np_dtype)
        if value and not (info.min <= min(value) and max(value) <= info.max):
            raise MessageError("range", f"values outside {spec.dtype}", msg_type=msg_type, field=name)
    return np.array(value, dtype=spec.np_dtype)

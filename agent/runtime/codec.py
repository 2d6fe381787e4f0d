"""Wire format: multipart [topic, msgpack header, *raw numpy frames]; zero-copy, no pickle."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import msgpack
import numpy as np

from agent.runtime.messages import MESSAGE_TYPES
from agent.runtime.schema import Message, MessageError

MAX_HEADER_BYTES = 64 * 1024
INLINE_BYTES = 4096  # arrays up to this size ride in the header as msgpack bin; bigger ones get a frame
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
_WIRE_DTYPES = ("uint8", "int32", "int64", "float32", "float64", "bool")
_ITEMSIZE = {name: np.dtype(name).itemsize for name in _WIRE_DTYPES}
_NAME = {np.dtype(name): name for name in _WIRE_DTYPES}  # dtype.name is slow on the hot path
_HEADER_KEYS = ("type", "v", "seq", "mono", "wall", "f", "a")


def encode(topic: str, msg: Message, *, validate: bool = True) -> list[Any]:
    """Frames for one message. Array frames are the arrays' own buffers (no copy when contiguous)."""
    if validate:
        msg.validate()
    arrays: list[np.ndarray] = []
    layout: list[list[Any]] = []
    for name, _spec in msg.array_fields():
        value = getattr(msg, name)
        if value is None:
            continue
        value = np.ascontiguousarray(value)
        entry = [name, _NAME.get(value.dtype, str(value.dtype)), list(value.shape)]
        if value.nbytes <= INLINE_BYTES:  # fewer frames: each costs more than copying a few bytes
            entry.append(value.tobytes())
        else:
            arrays.append(value)
        layout.append(entry)
    header = {
        "type": msg.TYPE,
        "v": msg.VERSION,
        "seq": msg.seq,
        "mono": msg.stamp_mono,
        "wall": msg.stamp_wall,
        "f": {name: getattr(msg, name) for name, _ in msg.scalar_fields()},
        "a": layout,
    }
    return [topic.encode(), msgpack.packb(header, use_bin_type=True), *arrays]


def decode(
    frames: Sequence[Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_age: float | None = None,
    now: float | None = None,
) -> tuple[str, Message]:
    """Topic and validated message from received frames, or MessageError with a reason code.

    Frames may be bytes or zmq.Frame; numpy fields are read-only views on the frame buffers.
    """
    if len(frames) < 2:
        raise MessageError("truncated", f"{len(frames)} frame(s), need topic and header")
    bufs = [_buffer(f) for f in frames]
    total = sum(len(b) for b in bufs)
    if total > max_bytes:
        raise MessageError("oversize", f"{total} bytes > limit {max_bytes}")
    try:
        topic = bytes(bufs[0]).decode()
    except UnicodeDecodeError as exc:
        raise MessageError("bad_topic", f"topic is not UTF-8 ({exc.reason})") from None
    header = _unpack_header(bufs[1])
    cls = MESSAGE_TYPES.get(header["type"])
    if cls is None:
        raise MessageError("unknown_type", f"type {header['type']!r}; known {sorted(MESSAGE_TYPES)}")
    if header["v"] != cls.VERSION:
        raise MessageError(
            "bad_version", f"version {header['v']!r}, this build speaks {cls.VERSION}", msg_type=cls.TYPE
        )
    kwargs = _scalars(cls, header)
    kwargs.update(_arrays(cls, header["a"], bufs[2:]))
    msg = cls(seq=header["seq"], stamp_mono=header["mono"], stamp_wall=header["wall"], **kwargs)
    msg.validate()
    if max_age is not None:
        age = (time.monotonic() if now is None else now) - msg.stamp_mono
        if age > max_age:
            raise MessageError("stale", f"{age * 1e3:.1f} ms old > {max_age * 1e3:.1f} ms", msg_type=cls.TYPE)
    return topic, msg


def _buffer(frame: Any) -> memoryview:
    if type(frame) is bytes:
        return memoryview(frame)
    buf = getattr(frame, "buffer", None)
    view = memoryview(frame) if buf is None else buf
    return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")


def _is_number(value: Any) -> bool:
    kind = type(value)
    return (kind is float or kind is int) and math.isfinite(value)


def _unpack_header(raw: memoryview) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_BYTES:
        raise MessageError("oversize", f"header {len(raw)} bytes > {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True, max_array_len=4096, max_map_len=4096)
    except Exception as exc:  # msgpack raises several unrelated types for garbage input
        raise MessageError("bad_header", f"not msgpack ({type(exc).__name__}: {exc})") from None
    if type(header) is not dict:
        raise MessageError("bad_header", f"header is {type(header).__name__}, expected a map")
    if len(header) != len(_HEADER_KEYS) or not all(key in header for key in _HEADER_KEYS):
        raise MessageError("bad_header", f"keys {sorted(map(str, header))}, expected {sorted(_HEADER_KEYS)}")
    if type(header["type"]) is not str or type(header["f"]) is not dict or type(header["a"]) is not list:
        raise MessageError("bad_header", "type must be a string, f a map and a (array layout) a list")
    seq = header["seq"]
    if type(seq) is not int or seq < 0:
        raise MessageError("bad_header", f"seq {seq!r} is not a non-negative int")
    if not (_is_number(header["mono"]) and _is_number(header["wall"])):
        raise MessageError("bad_header", f"stamps mono={header['mono']!r} wall={header['wall']!r} not finite numbers")
    return header


def _scalars(cls: type[Message], header: dict[str, Any]) -> dict[str, Any]:
    fields = header["f"]
    declared = {name for name, _ in cls.scalar_fields()}
    unknown = set(fields) - declared
    if unknown:
        raise MessageError("bad_header", f"unknown fields {sorted(map(str, unknown))}", msg_type=cls.TYPE)
    missing = declared - set(fields)
    if missing:
        raise MessageError("missing", f"fields {sorted(missing)} absent", msg_type=cls.TYPE)
    return dict(fields)


def _arrays(cls: type[Message], layout: list[Any], payload: list[memoryview]) -> dict[str, Any]:
    specs = dict(cls.array_fields())
    framed = sum(1 for entry in layout if isinstance(entry, list) and len(entry) == 3)
    if framed != len(payload):
        raise MessageError("truncated", f"header lists {framed} array frame(s), got {len(payload)}", msg_type=cls.TYPE)
    frames = iter(payload)
    out: dict[str, Any] = {}
    for entry in layout:
        if not (type(entry) is list and len(entry) in (3, 4) and type(entry[0]) is str):
            raise MessageError("bad_header", f"array layout entry {entry!r}", msg_type=cls.TYPE)
        name, dtype, shape = entry[:3]
        buf = next(frames) if len(entry) == 3 else entry[3]
        if name not in specs or name in out:
            raise MessageError("bad_header", f"unexpected array {name!r}", msg_type=cls.TYPE, field=name)
        if dtype not in _ITEMSIZE:
            raise MessageError("dtype", f"dtype {dtype!r} not allowed", msg_type=cls.TYPE, field=name)
        if not (type(shape) is list and all(type(s) is int and 0 <= s < 2**31 for s in shape)):
            raise MessageError("shape", f"bad shape {shape!r}", msg_type=cls.TYPE, field=name)
        if type(buf) is not bytes and type(buf) is not memoryview:
            raise MessageError("bad_header", f"inline array {name!r} is not bytes", msg_type=cls.TYPE, field=name)
        expected = math.prod(shape) * _ITEMSIZE[dtype]
        if expected != len(buf):
            raise MessageError(
                "truncated",
                f"{len(buf)} bytes, shape {shape} {dtype} needs {expected}",
                msg_type=cls.TYPE,
                field=name,
            )
        out[name] = np.frombuffer(buf, dtype=dtype).reshape(shape)
    return out

"""Per-message-type header builders and message builders, generated from the field specs.

A loop over field specs costs most of a bus hop's Python time when the caches are cold (messages a
millisecond apart): straight-line code per type runs about a quarter fewer instructions. The source
of each generated function is kept on it as `__source__` for reading and debugging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from agent.runtime.schema import ArraySpec, Message, MessageError, check_array, check_contents
from agent.runtime.wire import DTYPE_NAME, INLINE_ELEMS, ITEMSIZE, FrameRef, Plan

HeaderFn = Callable[[Message, bool], tuple[list[Any], list[np.ndarray]]]
BuildFn = Callable[[msgspec.Struct, Any], Message]


def framed(msg_type: str, name: str, spec: ArraySpec, dtype: Any, shape: Any, buf: Any) -> np.ndarray:
    """A payload frame as the read-only array its FrameRef describes, checked against the field's spec."""
    if dtype != spec.dtype:
        detail = f"expected {spec.dtype}, got {dtype}" if dtype in ITEMSIZE else f"dtype {dtype!r} not allowed"
        raise MessageError("dtype", detail, msg_type=msg_type, field=name)
    expected = spec.np_dtype.itemsize
    for size in shape:
        if type(size) is not int or not 0 <= size < 2**31:
            raise MessageError("shape", f"bad shape {shape!r}", msg_type=msg_type, field=name)
        expected *= size
    if expected != len(buf):
        raise MessageError("truncated", f"{len(buf)} bytes, shape {shape} {dtype} needs {expected}",
                           msg_type=msg_type, field=name)  # fmt: skip
    value = np.ndarray(shape, spec.np_dtype, buffer=buf)
    value.flags.writeable = False  # a view on the received frame
    check_contents(msg_type, name, spec, value)
    return value


def frames_missing(p: Plan, h: msgspec.Struct, got: int) -> MessageError:
    listed = sum(type(getattr(h, name)) is FrameRef for name, _ in p.arrays)
    return MessageError("truncated", f"header lists {listed} array frame(s), got {got}", msg_type=p.cls.TYPE)


def _compile(name: str, lines: list[str], env: dict[str, Any]) -> Callable[..., Any]:
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<amibot fastpath {name}>", "exec"), env)  # noqa: S102 (our own generated code)
    fn = env[name]
    fn.__source__ = source
    return fn


def header_builder(p: Plan) -> HeaderFn:
    """fn(msg, validate) -> (header list, array frames) for messages of p.cls."""
    env: dict[str, Any] = {
        "ndarray": np.ndarray,
        "contiguous": np.ascontiguousarray,
        "DTYPE_NAME": DTYPE_NAME,
        "check_array": check_array,
        "INLINE": INLINE_ELEMS,
        "T": p.cls.TYPE,
    }
    lines = ["def header(msg, validate):", "    arrays = []"]
    items = []
    for i, (name, spec, inl) in enumerate(p.fields):
        if spec is None:
            items.append(f"msg.{name}")
            continue
        env[f"S{i}"], env[f"D{i}"] = spec, spec.np_dtype
        lines += [f"    v{i} = msg.{name}", f"    if v{i} is None:", f"        h{i} = None"]
        if inl:
            lines += [
                f"    elif type(v{i}) is ndarray and v{i}.ndim == 1 and v{i}.size <= INLINE:",
                f"        if validate and v{i}.dtype != D{i}:",
                "            msg.validate()  # names the field and both dtypes",
                f"        h{i} = v{i}.tolist()",
            ]
        lines += [
            "    else:",
            "        if validate:",
            f"            check_array(T, {name!r}, S{i}, v{i})",
            f"        v{i} = contiguous(v{i})",
            f'        h{i} = {{"d": DTYPE_NAME.get(v{i}.dtype) or str(v{i}.dtype), "s": list(v{i}.shape)}}',
            f"        arrays.append(v{i})",
        ]
        items.append(f"h{i}")
    base = "[T, msg.VERSION, msg.seq, msg.stamp_mono, msg.stamp_wall"
    lines.append(f"    return {base}, {', '.join(items)}], arrays")
    return _compile("header", lines, env)


def message_builder(p: Plan) -> BuildFn:
    """fn(header struct, frames) -> the message, its arrays made from inline numbers or payload frames."""
    env: dict[str, Any] = {
        "np": np,
        "CLS": p.cls,
        "T": p.cls.TYPE,
        "P": p,
        "new": object.__new__,
        "framed": framed,
        "missing": frames_missing,
    }
    lines = ["def build(h, bufs):", "    n = len(bufs)", "    i = 2"]
    index = {name: i for i, (name, _, _) in enumerate(p.fields)}
    inline_fields = [name for name, _, inl in p.fields if inl]
    for name, spec, inl in p.fields:
        if spec is None:
            continue
        i = index[name]
        env[f"S{i}"], env[f"D{i}"] = spec, spec.np_dtype
        lines.append(f"    v{i} = h.{name}")
        guard = f"type(v{i}) is FrameRef" if inl else f"v{i} is not None"
        env["FrameRef"] = FrameRef
        lines += [
            f"    if {guard}:",
            "        if i == n:",
            "            raise missing(P, h, n - 2)",
            f"        v{i} = framed(T, {name!r}, S{i}, v{i}.d, v{i}.s, bufs[i])",
            "        i += 1",
        ]
    lines += ["    if i != n:", "        raise missing(P, h, n - 2)"]
    if inline_fields:
        lines += _inline_arrays(p, [index[name] for name in inline_fields])
    values = ", ".join(
        f"{name!r}: v{index[name]}" if spec is not None else f"{name!r}: h.{name}" for name, spec, _ in p.fields
    )
    lines += [
        "    msg = new(CLS)",
        "    msg.__dict__ = {'seq': h.seq, 'stamp_mono': h.stamp_mono, 'stamp_wall': h.stamp_wall, " + values + "}",
    ]
    if p.cls.check is not Message.check:
        lines.append("    msg.check()")
    lines.append("    return msg")
    return _compile("build", lines, env)


def _inline_arrays(p: Plan, idx: list[int]) -> list[str]:
    """Inline lists to read-only arrays; when they share a dtype and all came inline, one numpy call."""
    per_field = []
    for i in idx:
        per_field += [
            f"        if type(v{i}) is list:",
            f"            v{i} = np.array(v{i}, D{i})",
            f"            v{i}.flags.writeable = False",
        ]
    if p.inline_dtype is None or len(idx) == 1:
        return ["    if True:", *per_field]
    all_lists = " and ".join(f"type(v{i}) is list" for i in idx)
    lines = [
        f"    if {all_lists}:",
        f"        flat = np.array({' + '.join(f'v{i}' for i in idx)}, D{idx[0]})",
        "        flat.flags.writeable = False  # a received message is read-only",
        "        a = 0",
    ]
    for i in idx:
        lines += [f"        b = a + len(v{i})", f"        v{i} = flat[a:b]", "        a = b"]
    return lines + ["    else:", *per_field]

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

from agent.runtime.schema import ArraySpec, Message, MessageError, check_array, check_contents, check_like
from agent.runtime.wire import DTYPE_NAME, INLINE_ELEMS, ITEMSIZE, Plan

HeaderFn = Callable[[Message, bool], tuple[list[Any], list[np.ndarray]]]
BuildFn = Callable[[msgspec.Struct, Any], Message]


def framed(msg_type: str, name: str, spec: ArraySpec, dtype: Any, shape: Any, buf: Any) -> np.ndarray:
    """A payload frame as the read-only array its frame reference describes, checked against the field's spec.

    The generic (and precise) form of what message_builder's generated code does for frames msgspec passed."""
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
    listed = sum(type(getattr(h, name)) is p.refs[name] for name, _ in p.arrays)
    return MessageError("truncated", f"header lists {listed} array frame(s), got {got}", msg_type=p.cls.TYPE)


def _compile(name: str, lines: list[str], env: dict[str, Any]) -> Callable[..., Any]:
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<amibot fastpath {name}>", "exec"), env)  # noqa: S102 (our own generated code)
    fn = env[name]
    fn.__source__ = source
    return fn


def put_frame(msg: Message, name: str, spec: ArraySpec, value: Any, arrays: list[Any], validate: bool) -> dict:
    """The header entry of an array sent as its own frame (appended to arrays)."""
    if validate:
        check_array(msg.TYPE, name, spec, value)
    value = np.ascontiguousarray(value)
    arrays.append(value)
    return {"d": DTYPE_NAME.get(value.dtype) or str(value.dtype), "s": list(value.shape)}


def take_frame(p: Plan, h: msgspec.Struct, name: str, ref: Any, bufs: Any, i: int) -> np.ndarray:
    """The array a frame reference in an inline-able field stands for (a long 1-D array: the rare case)."""
    if i == len(bufs):
        raise frames_missing(p, h, len(bufs) - 2)
    return framed(p.cls.TYPE, name, dict(p.arrays)[name], ref.d, ref.s, bufs[i])


def header_builder(p: Plan) -> HeaderFn:
    """fn(msg, validate) -> (header list, array frames) for messages of p.cls.

    Dtype names, shapes and inline values are checked when the sender parses its own header
    (codec.encode); this checks what the header does not carry intact: the values of float frames,
    a wrong dtype inline, something that is not an array."""
    env: dict[str, Any] = {
        "ndarray": np.ndarray,
        "contiguous": np.ascontiguousarray,
        "NAME": DTYPE_NAME,
        "put": put_frame,
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
        lines.append(f"    v{i} = msg.{name}")
        if inl:
            lines += [
                f"    if type(v{i}) is ndarray and v{i}.ndim == 1 and v{i}.size <= INLINE:",
                f"        if validate and v{i}.dtype is not D{i}:  # builtin dtypes are singletons",
                "            msg.validate()  # names the field and both dtypes",
                f"        h{i} = v{i}.tolist()",
                f"    elif v{i} is None:",
                f"        h{i} = None",
                "    else:",
                f"        h{i} = put(msg, {name!r}, S{i}, v{i}, arrays, validate)",
            ]
        else:
            lines.append(f"    if type(v{i}) is ndarray:")
            if spec.values_checked:  # the header carries no values: numpy checks them here
                lines.append(f"        if validate: check_array(T, {name!r}, S{i}, v{i})")
            lines += [
                f"        v{i} = contiguous(v{i})  # the same array when it already is",
                f'        h{i} = {{"d": NAME.get(v{i}.dtype) or str(v{i}.dtype), "s": list(v{i}.shape)}}',
                f"        arrays.append(v{i})",
                f"    elif v{i} is None:",
                f"        h{i} = None",
                "    else:",
                f"        h{i} = put(msg, {name!r}, S{i}, v{i}, arrays, validate)",
            ]
        items.append(f"h{i}")
    index = {name: i for i, (name, _, _) in enumerate(p.fields)}
    for name, like in p.likes:  # the one check the wire schema cannot make
        a, b = index[name], index[like]
        lines += [
            f"    if validate and (v{a} is None or v{b} is None or v{a}.shape != v{b}.shape):",
            "        msg.validate()  # raises unless both are absent",
        ]
    base = "[T, msg.VERSION, msg.seq, msg.stamp_mono, msg.stamp_wall"
    lines.append(f"    return {base}, {', '.join(items)}], arrays")
    return _compile("header", lines, env)


def message_builder(p: Plan) -> BuildFn:
    """fn(header struct, frames) -> the message, its arrays made from inline numbers or payload frames."""
    env: dict[str, Any] = {
        "array": np.array,
        "ndarray": np.ndarray,
        "CLS": p.cls,
        "T": p.cls.TYPE,
        "P": p,
        "new": object.__new__,
        "framed": framed,
        "take": take_frame,
        "missing": frames_missing,
        "check_contents": check_contents,
        "check_like": check_like,
    }
    lines = ["def build(h, bufs):", "    n = len(bufs)", "    i = 2"]
    index = {name: i for i, (name, _, _) in enumerate(p.fields)}
    for name, spec, inl in p.fields:
        if spec is None:
            continue
        i = index[name]
        env[f"S{i}"], env[f"D{i}"] = spec, spec.np_dtype
        lines.append(f"    v{i} = h.{name}")
        if inl:
            lines += [
                f"    if type(v{i}) is list:",
                f"        v{i} = array(v{i}, D{i})  # an array of its own: nothing else shares its memory",
                f"    elif v{i} is not None:",
                f"        v{i} = take(P, h, {name!r}, v{i}, bufs, i)",
                "        i += 1",
            ]
            continue
        env[f"MAXB{i}"] = spec.max_elems * spec.np_dtype.itemsize
        const = spec.np_dtype.itemsize
        for size in spec.shape:
            const *= 1 if size is None else size
        nbytes = " * ".join([f"s[{k}]" for k, size in enumerate(spec.shape) if size is None] + [str(const)])
        lines += [
            f"    if v{i} is not None:",
            "        if i == n:",
            "            raise missing(P, h, n - 2)",
            "        b = bufs[i]",
            f"        s = v{i}.s",
            f"        nb = {nbytes}",
            f"        if nb == len(b) and nb <= MAXB{i}:",
            f"            v{i} = ndarray(s, D{i}, buffer=b)",
            f"            v{i}.setflags(write=False)  # a view on the received frame",
        ]
        if spec.values_checked:
            lines.append(f"            check_contents(T, {name!r}, S{i}, v{i})")
        lines += [
            "        else:",
            f"            v{i} = framed(T, {name!r}, S{i}, v{i}.d, s, b)  # raises the precise error",
            "        i += 1",
        ]
    lines += ["    if i != n:", "        raise missing(P, h, n - 2)"]
    for name, like in p.likes:
        a, b = index[name], index[like]
        optional = dict(p.arrays)[name].optional or dict(p.arrays)[like].optional
        shape = (lambda k: f"getattr(v{k}, 'shape', None)") if optional else (lambda k: f"v{k}.shape")
        lines += [f"    if {shape(a)} != {shape(b)}:", f"        check_like(T, {name!r}, {like!r}, v{a}, v{b})"]
    values = ", ".join(
        f"{name!r}: v{index[name]}" if spec is not None else f"{name!r}: h.{name}" for name, spec, _ in p.fields
    )
    lines += [
        "    msg = new(CLS)",
        "    msg.__dict__ = {'seq': h.seq, 'stamp_mono': h.stamp_mono, 'stamp_wall': h.stamp_wall, " + values + "}",
        "    return msg",
    ]
    return _compile("build", lines, env)

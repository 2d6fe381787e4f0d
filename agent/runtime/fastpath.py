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
                f"        if validate and v{i}.dtype is not D{i}:  # builtin dtypes are singletons",
                "            msg.validate()  # names the field and both dtypes",
                f"        h{i} = v{i}.tolist()",
            ]
        # dtype, rank, fixed axes and side limits are checked when the sender parses its own header
        check = "check_array" if spec.values_checked else "if type(v{i}) is not ndarray: check_array"
        lines += [
            "    else:",
            "        if validate:",
            f"            {check.format(i=i)}(T, {name!r}, S{i}, v{i})",
            f"        v{i} = contiguous(v{i})",
            f'        h{i} = {{"d": DTYPE_NAME.get(v{i}.dtype) or str(v{i}.dtype), "s": list(v{i}.shape)}}',
            f"        arrays.append(v{i})",
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
        "CLS": p.cls,
        "T": p.cls.TYPE,
        "P": p,
        "new": object.__new__,
        "framed": framed,
        "missing": frames_missing,
        "ndarray": np.ndarray,
        "check_contents": check_contents,
        "check_like": check_like,
    }
    lines = ["def build(h, bufs):", "    n = len(bufs)", "    i = 2"]
    index = {name: i for i, (name, _, _) in enumerate(p.fields)}
    inline_fields = [name for name, _, inl in p.fields if inl]
    for name, spec, _ in p.fields:
        if spec is None:
            continue
        i = index[name]
        env[f"S{i}"], env[f"D{i}"] = spec, spec.np_dtype
        lines.append(f"    v{i} = h.{name}")
        env[f"R{i}"], env[f"MAXB{i}"] = p.refs[name], spec.max_elems * spec.np_dtype.itemsize
        const = spec.np_dtype.itemsize
        for size in spec.shape:
            const *= 1 if size is None else size
        nbytes = " * ".join([f"s[{k}]" for k, size in enumerate(spec.shape) if size is None] + [str(const)])
        lines += [
            f"    if type(v{i}) is R{i}:",
            "        if i == n:",
            "            raise missing(P, h, n - 2)",
            "        b = bufs[i]",
            f"        s = v{i}.s",
            f"        nb = {nbytes}",
            f"        if nb == len(b) and nb <= MAXB{i}:",
            f"            v{i} = ndarray(s, D{i}, buffer=b)",
            f"            v{i}.flags.writeable = False  # a view on the received frame",
        ]
        if spec.values_checked:
            lines.append(f"            check_contents(T, {name!r}, S{i}, v{i})")
        lines += [
            "        else:",
            f"            v{i} = framed(T, {name!r}, S{i}, v{i}.d, s, b)  # raises the precise error",
            "        i += 1",
        ]
    lines += ["    if i != n:", "        raise missing(P, h, n - 2)"]
    if inline_fields:
        lines += _inline_arrays([index[name] for name in inline_fields])
    for name, like in p.likes:
        a, b = index[name], index[like]
        lines += [
            f"    if getattr(v{a}, 'shape', None) != getattr(v{b}, 'shape', None):",
            f"        check_like(T, {name!r}, {like!r}, v{a}, v{b})",
        ]
    values = ", ".join(
        f"{name!r}: v{index[name]}" if spec is not None else f"{name!r}: h.{name}" for name, spec, _ in p.fields
    )
    lines += [
        "    msg = new(CLS)",
        "    msg.__dict__ = {'seq': h.seq, 'stamp_mono': h.stamp_mono, 'stamp_wall': h.stamp_wall, " + values + "}",
    ]
    lines.append("    return msg")
    return _compile("build", lines, env)


def _inline_arrays(idx: list[int]) -> list[str]:
    """Inline lists to arrays of their own (writable: nothing else shares their memory)."""
    lines = []
    for i in idx:
        lines += [f"    if type(v{i}) is list:", f"        v{i} = array(v{i}, D{i})"]
    return lines

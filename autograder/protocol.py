"""The wire between the grader (trusted) and the student's process (untrusted): plain data only.

Frames are a 4-byte big-endian length and a JSON document. Values are None, bool, int, float,
complex, str, bytes, numpy arrays of numeric or bool dtype, and lists, tuples and dicts (string
keys) of these, within size and depth limits. Anything else stays in the student's process and
crosses as an opaque handle, anywhere inside a value::

    {"$handle": {"id": 7, "type": "Sequential", "callable": true, "methods": ["fit", ...]}}

(``methods``, the public methods its class defines, may be left out). ``encode`` and ``decode``
take a ``handle`` hook, so one walk applies one depth, size and handle budget to everything that
crosses, arguments and answers alike: ``encode`` asks the hook for a ``Handle`` for each value
that is not data (None: the value cannot cross), ``decode`` gives each ``Handle`` to the hook and
puts what it returns in its place. Decoding builds only those types: nothing received is ever
executed, imported or unpickled, and a malformed value raises ``ProtocolError`` and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALLOWED_DTYPES",
    "Handle",
    "Limits",
    "NotData",
    "ProtocolError",
    "decode",
    "encode",
    "frame_bytes",
    "read_frame",
    "write_frame",
]

ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64", "complex64", "complex128"]
)
_HEADER = struct.Struct(">I")
_NAME_CHARS = 200  # a handle's type name and each method name


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 96 * 1024 * 1024
    max_depth: int = 32
    max_items: int = 1_000_000  # container entries, summed over the whole value
    max_array_bytes: int = 64 * 1024 * 1024
    max_handles: int = 10_000  # handles in one value
    max_methods: int = 1_000  # method names in one handle


class ProtocolError(Exception):
    """A frame or value that breaks the rules; the call it answers counts as failed."""


class NotData(Exception):
    """Raised while encoding: this value must stay behind as a handle."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object living in the student's process (decoded form)."""

    id: int
    type_name: str
    callable: bool
    methods: frozenset[str] = frozenset()  # public methods of its class, as the student's side says


def _budget(limits: Limits):
    """A checker both directions call once per node: the same depth and size rules."""
    left = [limits.max_items, limits.max_handles]

    def spend(depth: int, handles: int = 0, items: int = 1) -> None:
        if depth > limits.max_depth:
            raise ProtocolError(f"value nested deeper than {limits.max_depth} levels")
        left[0] -= items
        if left[0] < 0:
            raise ProtocolError(f"value has more than {limits.max_items} items")
        left[1] -= handles
        if left[1] < 0:
            raise ProtocolError(f"value holds more than {limits.max_handles} objects")

    return spend


_NUMPY_SCALARS = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                  np.uint32, np.uint64, np.float16, np.float32, np.float64, np.complex64,
                  np.complex128)


def encode(value, limits: Limits = Limits(),
           handle: Callable[[object], Handle | None] | None = None) -> object:
    """Plain data to a JSON-able tree. A value that is not data becomes the handle ``handle``
    gives for it; without a hook, or when it gives None, encoding raises NotData."""
    spend = _budget(limits)

    def other(v, depth, reason):
        found = handle(v) if handle is not None else None
        if found is None:
            raise NotData(reason)
        methods = sorted(found.methods)[:limits.max_methods]
        spend(depth, handles=1, items=len(methods))  # the same count decode makes
        body = {"id": found.id, "type": found.type_name, "callable": found.callable}
        if methods:
            body["methods"] = methods
        return {"$handle": body}

    def walk(v, depth):
        spend(depth)
        kind = type(v)  # exact types: a subclass may lie about what it is
        if v is None or kind is bool or kind is str:
            return v
        if kind is int:
            return v if abs(v) < 2**63 else {"$int": str(v)}
        if kind is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if kind is complex:
            return {"$complex": [walk(v.real, depth + 1), walk(v.imag, depth + 1)]}
        if kind is bytes:
            return {"$bytes": base64.b64encode(v).decode()}
        if kind in _NUMPY_SCALARS:
            return walk(v.item(), depth)
        if kind is np.ndarray:
            if v.dtype.name not in ALLOWED_DTYPES:
                return other(v, depth, f"array of dtype {v.dtype}")
            if v.nbytes > limits.max_array_bytes:
                raise ProtocolError(f"array of {v.nbytes} bytes exceeds the limit")
            data = np.ascontiguousarray(v).tobytes()
            return {"$ndarray": {"dtype": v.dtype.str, "shape": list(v.shape),
                                 "data": base64.b64encode(data).decode()}}
        if kind is list or kind is tuple:
            items = [walk(item, depth + 1) for item in v]
            return items if kind is list else {"$tuple": items}
        if kind is dict:
            if not all(type(key) is str for key in v):
                return other(v, depth, "dict with non-string keys")
            return {"$dict": {key: walk(item, depth + 1) for key, item in v.items()}}
        return other(v, depth, kind.__name__)

    return walk(value, 0)


def decode(tree, limits: Limits = Limits(), handle: Callable[[Handle], object] | None = None):
    """The inverse of encode, building only plain types and, for each handle, a ``Handle`` or
    what ``handle`` makes of it. Anything malformed raises ProtocolError."""
    spend = _budget(limits)
    method_sets: dict[tuple, frozenset[str]] = {}  # objects of one class share one set

    def walk(t, depth):
        spend(depth)
        kind = type(t)
        if t is None or kind in (bool, int, float, str):
            return t
        if kind is list:
            return [walk(item, depth + 1) for item in t]
        if kind is not dict or len(t) != 1:
            raise ProtocolError(f"unexpected {kind.__name__} in a value")
        ((tag, body),) = t.items()
        if tag == "$tuple" and type(body) is list:
            return tuple(walk(item, depth + 1) for item in body)
        if tag == "$dict" and type(body) is dict:
            return {str(key): walk(item, depth + 1) for key, item in body.items()}
        if tag == "$int" and type(body) is str and body.lstrip("-").isdigit() and len(body) < 4000:
            return int(body)
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$complex" and type(body) is list and len(body) == 2:
            real, imag = (walk(part, depth + 1) for part in body)
            if type(real) not in (int, float) or type(imag) not in (int, float):
                raise ProtocolError("bad complex")
            return complex(real, imag)
        if tag == "$bytes" and type(body) is str:
            return base64.b64decode(body, validate=True)
        if tag == "$ndarray" and type(body) is dict:
            return _decode_array(body, limits)
        if tag == "$handle" and type(body) is dict:
            found = _decode_handle(body, limits, method_sets)
            spend(depth, handles=1, items=len(found.methods))
            return found if handle is None else handle(found)
        raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")

    try:
        return walk(tree, 0)
    except ProtocolError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError, binascii.Error) as exc:
        raise ProtocolError(f"malformed value: {type(exc).__name__}: {str(exc)[:200]}") from None


def _decode_handle(body: dict, limits: Limits, method_sets: dict) -> Handle:
    ident, type_name = body.get("id"), body.get("type", "object")
    if type(ident) is not int or type(type_name) is not str or len(type_name) > _NAME_CHARS \
            or type(body.get("callable", False)) is not bool or set(body) - {
                "id", "type", "callable", "methods"}:
        raise ProtocolError("malformed handle")
    names = body.get("methods", [])
    if type(names) is not list or len(names) > limits.max_methods:
        raise ProtocolError("malformed method names in a handle")
    key = tuple(names)  # a list or dict among them: unhashable, a malformed value
    methods = method_sets.get(key)
    if methods is None:
        if not all(type(name) is str and 0 < len(name) <= _NAME_CHARS for name in names):
            raise ProtocolError("malformed method names in a handle")
        methods = method_sets[key] = frozenset(names)
    return Handle(ident, type_name, body.get("callable", False), methods)


def _decode_array(body: dict, limits: Limits) -> np.ndarray:
    dtype = np.dtype(str(body.get("dtype")))
    if dtype.name not in ALLOWED_DTYPES:
        raise ProtocolError(f"array dtype {dtype} is not allowed")
    shape = body.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError("bad array shape")
    data = base64.b64decode(str(body.get("data")), validate=True)
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) or len(data) > limits.max_array_bytes:
        raise ProtocolError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
def frame_bytes(message: dict) -> bytes:
    """One message as it goes on the wire: the length header and the JSON document."""
    payload = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload)) + payload


def write_frame(stream, message: dict) -> None:
    stream.write(frame_bytes(message))
    stream.flush()


def read_frame(stream, limits: Limits = Limits()) -> dict:
    """One message, or EOFError when the other side has gone away."""
    header = _read_exactly(stream, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > limits.max_frame_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit")
    try:
        message = json.loads(_read_exactly(stream, size))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame is not JSON: {str(exc)[:200]}") from None
    if type(message) is not dict:
        raise ProtocolError("frame is not an object")
    return message


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)

"""The wire between the grader (trusted) and the student's process (untrusted): plain data only.

Frames are a 4-byte big-endian length and a JSON document. Values are None, bool, int, float,
complex, str, bytes, numpy arrays of numeric or bool dtype, and lists, tuples and dicts (string
keys) of these, within size and depth limits. Anything else stays in the student's process and
crosses as an opaque handle ``{"$handle": id, "type": "...", "callable": bool}``. Decoding builds
only those types: nothing received is ever executed, imported or unpickled.
"""

from __future__ import annotations

import base64
import json
import math
import struct
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


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 96 * 1024 * 1024
    max_depth: int = 32
    max_items: int = 1_000_000  # container entries, summed over the whole value
    max_array_bytes: int = 64 * 1024 * 1024


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


def _budget(limits: Limits):
    """A checker both directions call once per node: the same depth and size rules."""
    left = [limits.max_items]

    def spend(depth: int) -> None:
        if depth > limits.max_depth:
            raise ProtocolError(f"value nested deeper than {limits.max_depth} levels")
        left[0] -= 1
        if left[0] < 0:
            raise ProtocolError(f"value has more than {limits.max_items} items")

    return spend


def encode(value, limits: Limits = Limits()) -> object:
    """Plain data to a JSON-able tree; raises NotData for anything else."""
    spend = _budget(limits)

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
        if kind in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                    np.uint32, np.uint64, np.float16, np.float32, np.float64, np.complex64,
                    np.complex128):
            return walk(v.item(), depth)
        if kind is np.ndarray:
            if v.dtype.name not in ALLOWED_DTYPES:
                raise NotData(f"array of dtype {v.dtype}")
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
                raise NotData("dict with non-string keys")
            return {"$dict": {key: walk(item, depth + 1) for key, item in v.items()}}
        raise NotData(type(v).__name__)

    return walk(value, 0)


def decode(tree, limits: Limits = Limits()):
    """The inverse of encode, building only plain types (and Handle)."""
    spend = _budget(limits)

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
            if type(real) is not float and type(real) is not int:
                raise ProtocolError("bad complex")
            return complex(real, imag)
        if tag == "$bytes" and type(body) is str:
            return base64.b64decode(body, validate=True)
        if tag == "$ndarray" and type(body) is dict:
            return _decode_array(body, limits)
        if tag == "$handle" and type(body) is dict:
            return Handle(int(body["id"]), str(body.get("type", "object"))[:200],
                          bool(body.get("callable")))
        raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")

    return walk(tree, 0)


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

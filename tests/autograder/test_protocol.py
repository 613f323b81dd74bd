"""The wire carries plain data only, within limits; anything else is refused or a handle."""

import json

import numpy as np
import pytest

from autograder.protocol import (Handle, Limits, NotData, ProtocolError, decode, encode,
                                 read_frame, write_frame)


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2**70, 1.5, float("nan"), float("-inf"), 1 + 2j, "text", b"\x00\xff",
    [1, [2, (3, 4)]], (1, "a"), {"a": [1.0, {"b": None}]},
    np.arange(6, dtype=np.int32).reshape(2, 3), np.array([True, False]),
    np.zeros((0, 3)), np.array(1.5), np.ones(3, dtype=np.complex64),
])
def test_round_trip(value):
    back = decode(json.loads(json.dumps(encode(value))))
    if isinstance(value, np.ndarray):
        assert type(back) is np.ndarray and back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value and type(back) is type(value)


def test_numpy_scalars_become_python_numbers():
    assert type(decode(encode(np.float32(1.5)))) is float
    assert type(decode(encode(np.int64(3)))) is int


class Liar(float):
    def __eq__(self, other):
        return True


class EqualsAnything:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [
    Liar(1.0), EqualsAnything(), np.array([object()]), np.array(["a"]),
    np.arange(3).view(np.matrix), (x for x in range(3)), {1: "non-string key"}, print,
])
def test_non_data_stays_behind(value):
    with pytest.raises(NotData):
        encode(value)


def test_limits_on_depth_items_and_size():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ProtocolError, match="deeper"):
        encode(deep)
    with pytest.raises(ProtocolError, match="items"):
        encode(list(range(20)), Limits(max_items=10))
    with pytest.raises(ProtocolError, match="exceeds"):
        encode(np.zeros(1000), Limits(max_array_bytes=100))
    tree = {"$tuple": []}
    for _ in range(40):
        tree = {"$tuple": [tree]}
    with pytest.raises(ProtocolError, match="deeper"):
        decode(tree)


@pytest.mark.parametrize("tree, message", [
    ({"$ndarray": {"dtype": "|O", "shape": [1], "data": ""}}, "not allowed"),
    ({"$ndarray": {"dtype": "<f8", "shape": [2], "data": "AAAA"}}, "does not match"),
    ({"$pickle": "gASV"}, "unknown tag"),
    ({"a": 1, "b": 2}, "unexpected dict"),
    ({"$int": "1e9"}, "unknown tag"),
])
def test_decode_refuses_anything_else(tree, message):
    with pytest.raises(ProtocolError, match=message):
        decode(tree)


def test_handles_decode_to_handles_only():
    handle = decode({"$handle": {"id": 3, "type": "Sequential", "callable": True}})
    assert handle == Handle(3, "Sequential", True)


def test_frames(tmp_path):
    path = tmp_path / "frames"
    with open(path, "wb") as out:
        write_frame(out, {"id": 1, "ok": encode([1, 2])})
        out.write(b"\x00\x00\x00\x05[1,2")  # truncated: the writer died mid-frame
    with open(path, "rb") as inp:
        assert read_frame(inp) == {"id": 1, "ok": [1, 2]}
        with pytest.raises(EOFError):
            read_frame(inp)
    path.write_bytes(b"\xff\xff\xff\xff")
    with open(path, "rb") as inp, pytest.raises(ProtocolError, match="exceeds"):
        read_frame(inp)
    path.write_bytes(b"\x00\x00\x00\x03abc")
    with open(path, "rb") as inp, pytest.raises(ProtocolError, match="not JSON"):
        read_frame(inp)

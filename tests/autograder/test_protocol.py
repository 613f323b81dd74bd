"""The wire carries plain data only, within limits; anything else is refused or a handle."""

import copy
import json
import math

import numpy as np
import pytest
from runner_pipes import serving

from autograder.client import (
    RemoteMethod,
    RemoteObject,
    StudentError,
)
from autograder.protocol import (
    Handle,
    Limits,
    NotData,
    ProtocolError,
    decode,
    encode,
    read_frame,
    write_frame,
)
from autograder.student_runner import Runner


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
    elif isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
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
    # what would raise ValueError or TypeError here, which a grader's pytest.raises(ValueError)
    # takes for the student's answer, is a broken answer and nothing else
    ({"$bytes": "@@@@"}, "malformed value"),
    ({"$int": "--5"}, "malformed value"),
    ({"$complex": [1.0, "x"]}, "bad complex"),
    ({"$ndarray": {"dtype": "no such type", "shape": [1], "data": ""}}, "malformed value"),
    ({"$handle": {"id": "7", "type": "Model"}}, "malformed handle"),
    ({"$handle": {"id": 7, "callable": 1}}, "malformed handle"),
    ({"$handle": {"id": 7, "methods": "fit"}}, "malformed method names"),
    ({"$handle": {"id": 7, "methods": ["x"] * 2000}}, "malformed method names"),
])
def test_decode_refuses_anything_else(tree, message):
    with pytest.raises(ProtocolError, match=message):
        decode(tree)


def test_handles_decode_to_handles_only():
    handle = decode({"$handle": {"id": 3, "type": "Sequential", "callable": True}})
    assert handle == Handle(3, "Sequential", True)


class Box:
    """Stands for an object of one side that crosses as a handle."""

    def __init__(self, ident):
        self.ident = ident


def box_handle(value):
    return Handle(value.ident, "Box", False, frozenset({"fit"})) if type(value) is Box else None


def test_nested_handles_round_trip_through_the_hooks():
    value = {"model": Box(1), "history": [0.5, (Box(2), np.arange(3))], "n": 3}
    tree = json.loads(json.dumps(encode(value, handle=box_handle)))
    assert tree["$dict"]["model"] == {"$handle": {"id": 1, "type": "Box", "callable": False,
                                                  "methods": ["fit"]}}
    back = decode(tree, handle=lambda found: ("proxy", found.id, found.methods))
    assert back["model"] == ("proxy", 1, frozenset({"fit"}))
    assert back["history"][1][0] == ("proxy", 2, frozenset({"fit"}))
    np.testing.assert_array_equal(back["history"][1][1], np.arange(3))
    assert back["n"] == 3
    with pytest.raises(NotData):  # the hook turns down what is no handle of its side
        encode([Box(1), print], handle=box_handle)


def test_handles_share_the_budget():
    with pytest.raises(ProtocolError, match="more than 10 objects"):
        encode([Box(n) for n in range(11)], Limits(max_handles=10), handle=box_handle)
    tree = encode([Box(n) for n in range(11)], handle=box_handle)
    with pytest.raises(ProtocolError, match="more than 10 objects"):
        decode(tree, Limits(max_handles=10))
    many = Handle(1, "Box", False, frozenset(f"m{n}" for n in range(50)))
    with pytest.raises(ProtocolError, match="more than 40 items"):  # method names count
        encode([Box(1)], Limits(max_items=40), handle=lambda v: many)
    with pytest.raises(ProtocolError, match="more than 40 items"):
        decode(encode([Box(1)], handle=lambda v: many), Limits(max_items=40))


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


# --- the grader's proxies against a real runner, on a thread over two pipes ------------------

class Blob:
    def __init__(self, n):
        self.n = n

    def twice(self):
        return 2 * self.n


def make(n):
    return Blob(n)


def pair(n):
    return Blob(n), [1.5, {"blob": Blob(n + 1)}]


def total(items):
    return sum(blob.n for blob in items["blobs"]) + items["more"][0].n


def echo(*args, **kwargs):
    return [list(args), kwargs]


def nest(depth, leaf=None):
    value = [] if leaf is None else [leaf]
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_blobs(depth):
    return nest(depth, Blob(1))


def odd():
    return [np.arange(4).view(np.matrix), np.array([object()]), (x for x in range(3)),
            {1: "non-string key"}, 2.5]


def fail():
    raise ValueError("bad input")


def apply(function, *args):
    return function(*args)


class CountingRunner(Runner):
    """The student's runner, recording the operation of each message it gets."""

    def __init__(self, *streams):
        super().__init__(*streams)
        self.ops = []

    def handle(self, message):
        self.ops.append(message.get("op"))
        return super().handle(message)


@pytest.fixture
def served():
    """Submissions talking to CountingRunners over pipes: the wire without the sandbox."""
    namespace = {f.__name__: f for f in (make, pair, total, echo, nest, deep_blobs, odd, fail,
                                         apply)}
    pipes = serving(CountingRunner)
    start = next(pipes)
    yield lambda: start(namespace)
    next(pipes, None)  # stops the runners


def test_one_round_trip_per_function_or_method_call(served):
    submission, runner = served()
    blob = submission.make(3)
    assert runner.ops == ["call"]  # the lookup and the call in one message
    assert type(blob) is RemoteObject and repr(blob) == "<student Blob>"
    assert type(blob.twice) is RemoteMethod
    assert blob.twice() == 6
    assert runner.ops == ["call", "call"]
    assert blob.n == 3  # a data attribute: read in one round trip
    assert runner.ops == ["call", "call", "getattr"]
    assert submission.apply(blob.twice) == 6  # passed on: looked up, then sent as a handle
    assert runner.ops[3:] == ["getattr", "call"]


def test_nested_structures_with_handles_cross_both_ways(served):
    submission, runner = served()
    first, (number, rest) = submission.pair(3)
    assert number == 1.5 and type(first) is RemoteObject and type(rest["blob"]) is RemoteObject
    assert submission.total({"blobs": (first, rest["blob"]), "more": [first]}) == 10
    assert len(runner.handles) == 2  # the same objects came back, none was copied


def test_non_data_from_the_student_stays_behind(served):
    submission, runner = served()
    answer = submission.odd()
    assert type(answer) is list and answer[-1] == 2.5  # the data in it crosses as data...
    objects = answer[:-1]
    assert [type(v) for v in objects] == [RemoteObject] * 4  # ...never as array, list or dict
    assert [repr(v) for v in objects] == ["<student matrix>", "<student ndarray>",
                                          "<student generator>", "<student dict>"]
    assert runner.ops == ["call"]


def test_an_argument_deeper_than_the_budget_is_refused_like_an_answer(served):
    submission, runner = served()
    assert submission.echo(nest(25)) == [[nest(25)], {}]  # within the budget: crosses both ways
    with pytest.raises(ProtocolError, match="nested deeper than 32 levels"):
        submission.echo(nest(40))
    with pytest.raises(ProtocolError, match="more than 1000000 items"):  # args, kwargs: one walk
        submission.echo(list(range(600_000)), more=list(range(600_000)))
    assert runner.ops == ["call"]  # neither was sent
    with pytest.raises(StudentError, match="ProtocolError: value nested deeper than 32 levels"):
        submission.nest(40)  # the same value as an answer
    with pytest.raises(StudentError, match="nested deeper"):
        submission.deep_blobs(40)
    assert runner.handles == {}  # an answer refused keeps none of its objects


def test_objects_are_released_when_their_proxies_are_collected(served):
    submission, runner = served()
    kept = submission.make(5)
    for n in range(2_000):
        assert submission.make(n).n == n  # a handle, read, dropped
    assert len(runner.handles) <= 2, len(runner.handles)
    assert kept.twice() == 10  # what the grader still holds stays
    method = kept.twice
    del kept
    assert method() == 10  # a method holds its object
    del method
    submission.echo()
    assert runner.handles == {}


def test_objects_of_an_earlier_process_are_refused(served):
    first, _ = served()
    second, runner = served()
    blob = first.make(1)
    with pytest.raises(ProtocolError, match="earlier run"):
        second.apply(blob)
    assert runner.ops == []


def test_student_errors_keep_the_student_traceback(served):
    submission, _ = served()
    with pytest.raises(ValueError, match="bad input") as caught:
        submission.fail()
    assert isinstance(caught.value, StudentError)
    assert 'raise ValueError("bad input")' in caught.value.traceback


def test_copies_of_a_proxy_are_the_proxy(served):
    submission, _ = served()
    blob = submission.make(4)
    assert copy.copy(blob) is blob and copy.deepcopy([blob])[0] is blob
    assert blob.twice() == 8  # collecting a copy did not release the object

"""``submission.remote`` and ``submission.fetch``: values placed in the student's process, passed
to its functions as live objects, read back after they changed there in place."""

import numpy as np
import pytest
from runner_pipes import serving

from autograder.client import RemoteObject, StudentError, SubmissionUnavailable
from autograder.protocol import NotData, ProtocolError


@pytest.fixture
def serve():
    yield from serving()


def step(w, grad, lr=0.1):
    w -= lr * grad  # in place


def step_copy(w, grad, lr=0.1):
    w = w - lr * grad  # a new array: the caller's is unchanged
    return w


def update_config(config):
    config["lr"] = config["lr"] * 2
    config["seen"].append(1)


def update_nested(state):
    state["params"]["w"][0] = 42.0


def identity(value):
    return value is IDENTITY[0]


IDENTITY = []


def keep(value):
    IDENTITY.append(value)
    return type(value).__name__


def poke(value):
    """What a student could try on a value the grader placed: look for the grader's side."""
    found = []
    for name in ("__globals__", "__self__", "_process", "f_back", "__class__"):
        found.append(repr(getattr(value, name, None))[:60])
    return found


def spoil(config):
    config["lr"] = print  # no longer plain data


def store(value):
    return value


NAMESPACE = {f.__name__: f for f in (step, step_copy, update_config, update_nested, identity,
                                     keep, poke, spoil, store)}


def test_in_place_changes_are_seen_and_copies_are_not(serve):
    submission, _ = serve(NAMESPACE)
    w = np.array([1.0, 2.0, 3.0])
    ref = submission.remote(w)
    assert type(ref) is RemoteObject and repr(ref) == "<student ndarray>"
    assert submission.step(ref, np.ones(3)) is None
    np.testing.assert_allclose(submission.fetch(ref), [0.9, 1.9, 2.9])
    np.testing.assert_array_equal(w, [1.0, 2.0, 3.0])  # the grader's own array: untouched
    ref2 = submission.remote(w)
    out = submission.step_copy(ref2, grad=np.ones(3), lr=0.5)  # as a keyword, too
    np.testing.assert_allclose(out, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(submission.fetch(ref2), w)  # not changed there


def test_dicts_and_nested_arguments_are_the_live_objects(serve):
    submission, _ = serve(NAMESPACE)
    config = submission.remote({"lr": 0.1, "seen": []})
    submission.update_config(config)
    assert submission.fetch(config) == {"lr": 0.2, "seen": [1]}
    w = submission.remote(np.zeros(2))
    submission.update_nested({"params": {"w": w}})  # a proxy inside a dict argument
    np.testing.assert_array_equal(submission.fetch(w), [42.0, 0.0])
    submission.update_nested(state={"params": {"w": w}})
    assert submission.keep(w) == "ndarray" and submission.identity(w) is True


def test_fetch_returns_plain_data_or_fails(serve):
    submission, _ = serve(NAMESPACE)
    config = submission.remote({"lr": 0.1})
    submission.spoil(config)
    with pytest.raises(StudentError, match="NotData: the object holds builtin_function"):
        submission.fetch(config)
    with pytest.raises(TypeError, match="not dict"):
        submission.fetch({"lr": 0.1})
    assert submission.fetch(submission.remote(3.5)) == 3.5


def test_only_plain_data_can_be_placed(serve):
    submission, runner = serve(NAMESPACE)

    class GradersObject:
        secret = "reference answer"

    for value in (GradersObject(), print, {"f": lambda: 1}, [np.array([object()])]):
        with pytest.raises(NotData):
            submission.remote(value)
    with pytest.raises(ProtocolError, match="more than 1000000 items"):
        submission.remote(list(range(1_000_001)))  # the protocol's budgets apply
    assert runner.handles == {}  # none of it was sent


def test_a_placed_value_leads_nowhere_on_the_graders_side(serve):
    submission, runner = serve(NAMESPACE)
    ref = submission.remote({"w": np.ones(2)})
    found = submission.poke(ref)
    assert found[:4] == ["None"] * 4 and found[4] == "<class 'dict'>"
    back = submission.store(ref)  # handed back as an answer, it crosses as data (a copy)
    assert type(back) is dict and type(back["w"]) is np.ndarray
    assert list(map(type, runner.handles.values())) == [dict]  # the student's side keeps data


def test_fetch_of_a_forged_handle_kills_the_connection(serve):
    """A student's process that answers a fetch with a handle broke the protocol."""
    submission, runner = serve(NAMESPACE)
    ref = submission.remote([1, 2])
    runner.to_wire = lambda value: {"$handle": {"id": 1, "type": "list", "callable": False}}
    with pytest.raises(SubmissionUnavailable, match="where plain data was asked for"):
        submission.fetch(ref)


def test_objects_of_another_run_are_refused(serve):
    first, _ = serve(NAMESPACE)
    second, _ = serve(NAMESPACE)
    ref = first.remote(np.zeros(2))
    with pytest.raises(ProtocolError, match="earlier run"):
        second.fetch(ref)
    with pytest.raises(ProtocolError, match="earlier run"):
        second.step(ref, np.ones(2))

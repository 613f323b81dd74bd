"""Loops driven by C callables and loops that do not do the work (THREATS.md class 26).

``map`` over a C method, ``itertools.starmap``, ``math.fsum``, ``functools.reduce`` and an
``np.frompyfunc`` of a builtin run no Python line per element; what they all need is the
elements of an array as Python objects, which ``autograder.measure`` counts while a measured
call runs. A loop beside one vectorized call (``for _ in range(n): pass`` before ``A @ B``) runs
lines that grow with n, but its largest NumPy computation grows with n too. Each function below
is a notebook's, called through the student runner as the graders call it."""

import functools
import itertools
import json
import math
import operator
import shutil

import numpy as np
import pytest
from runner_pipes import serving
from small_courses import REPO

from autograder.check_graders import check_assignment
from autograder.checks import assert_uses_loops, assert_vectorized, count_python_work


@pytest.fixture
def serve():
    yield from serving()


# --- "no loops": evasions through C callables (vectors a, b of size n) -----------------------
def dot_map_operator(a, b):
    return float(sum(map(operator.mul, a, b)))


def dot_starmap(a, b):
    return float(sum(itertools.starmap(operator.mul, zip(a, b))))  # noqa: RUF058 - the evasion


PAIRWISE = functools.partial(map, operator.mul)


def dot_partial_map(a, b):
    return float(sum(PAIRWISE(a, b)))


def dot_fsum(a, b):
    return math.fsum(a * b)


def dot_reduce(a, b):
    return float(functools.reduce(operator.add, a * b))


def dot_sum_genexpr(a, b):
    return float(sum(x * y for x, y in zip(a, b)))


def dot_tolist_map(a, b):
    return float(sum(map(operator.mul, a.tolist(), b.tolist())))


def dot_vectorize_builtin(a, b):
    return float(np.sum(np.vectorize(operator.mul)(a, b)))


def dot_frompyfunc(a, b):
    return float(np.sum(np.frompyfunc(operator.mul, 2, 1)(a, b)))


MULTIPLY = np.frompyfunc(operator.mul, 2, 1)  # made when the notebook runs, not in the call


def dot_frompyfunc_prebuilt(a, b):
    return float(MULTIPLY(a, b).sum())


def dot_apply_along_axis_builtin(a, b):
    return float(np.sum(np.apply_along_axis(np.prod, 1, np.stack([a, b], axis=1))))


def dist_math(a, b):
    return math.dist(a, b)


# --- "no loops": honest vectorized solutions --------------------------------------------------
def dot_numpy(a, b):
    return float(np.dot(a, b))


def dot_broadcast(a, b):
    return float((a * b).sum())


def dist_numpy(a, b):
    return float(np.linalg.norm(a - b))


def dist_sqrt(a, b):
    return float(np.sqrt(np.sum((a - b) ** 2)))


WEIGHTS = np.array([0.5, 0.25, 0.25])


def dot_weighted_fixed_loop(a, b):
    """A loop over three fixed weights (and an array of them): no loop over the elements."""
    total = 0.0
    for weight in WEIGHTS:
        total += weight * float(np.dot(a, b))
    return total


# --- matrices: A of shape (n, 3) times B of shape (3, 2) ---------------------------------------
def mm_map_bound_c_method(A, B):
    return np.array(list(map(B.T.dot, A)))


def mm_map_matmul(A, B):
    return np.array(list(map(np.ndarray.__matmul__, A, itertools.repeat(B))))


def mm_numpy(A, B):
    return A @ B


def mm_einsum(A, B):
    return np.einsum("ij,jk->ik", A, B)


def mm_columns(A, B):
    """Vectorized over the rows, a loop over the (fixed) inner dimension."""
    return sum(A[:, k, None] * B[k] for k in range(A.shape[1]))


# --- "use loops": a loop that does the work, and one that does not ---------------------------
def mm_loops(A, B):
    C = np.zeros((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            for k in range(A.shape[1]):
                C[i, j] += A[i, k] * B[k, j]
    return C


def mm_row_loop(A, B):
    C = np.zeros((A.shape[0], B.shape[1]))
    for i, row in enumerate(A):
        C[i] = row @ B
    return C


def mm_cell_dots(A, B):
    return np.array([[np.dot(A[i], B[:, j]) for j in range(B.shape[1])]
                     for i in range(A.shape[0])])


def mm_dummy_range(A, B):
    for _ in range(A.shape[0]):
        pass
    return A @ B


def mm_dummy_iteration(A, B):
    for row in A:
        _unused = row
    return np.dot(A, B)


def mm_dummy_work(A, B):
    checked = 0
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            checked += i * j
    return A.dot(B)


def mm_dummy_einsum(A, B):
    for _ in A:
        pass
    return np.einsum("ij,jk->ik", A, B)


# --- tampering with the hooks -----------------------------------------------------------------
ORIGINAL_ITER = np.ndarray.__dict__["__iter__"]


def dot_hooks_removed(a, b):
    type.__setattr__(np.ndarray, "__iter__", ORIGINAL_ITER)
    return dot_map_operator(a, b)


NAMESPACE = {name: value for name, value in globals().items()
             if name.startswith(("dot_", "dist_", "mm_"))}


def _vectors(submission, name):
    function = getattr(submission, name)
    return lambda n: function(np.arange(n, dtype=float), np.ones(n))


def _matrices(submission, name, columns=3):
    function = getattr(submission, name)
    return lambda n: function(np.ones((n, columns)), np.ones((columns, 2)))


@pytest.mark.parametrize("name", [
    "dot_map_operator", "dot_starmap", "dot_partial_map", "dot_fsum", "dot_reduce",
    "dot_sum_genexpr", "dot_tolist_map", "dot_vectorize_builtin", "dot_frompyfunc",
    "dot_frompyfunc_prebuilt", "dot_apply_along_axis_builtin", "dist_math"])
def test_loops_driven_by_c_callables_are_not_vectorized(serve, name):
    submission, _ = serve(NAMESPACE)
    assert np.isclose(getattr(submission, name)(np.arange(4.0), np.ones(4)),
                      NAMESPACE["dist_numpy" if name.startswith("dist") else "dot_numpy"](
                          np.arange(4.0), np.ones(4)))  # they do compute the answer
    with pytest.raises(AssertionError, match="runs Python code for each element"):
        assert_vectorized(submission, _vectors(submission, name), what=name)


@pytest.mark.parametrize("name", ["mm_map_bound_c_method", "mm_map_matmul"])
def test_maps_over_rows_are_not_vectorized(serve, name):
    submission, _ = serve(NAMESPACE)
    A, B = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    assert np.allclose(getattr(submission, name)(A, B), A @ B)
    with pytest.raises(AssertionError, match="array elements taken one by one"):
        assert_vectorized(submission, _matrices(submission, name), what=name)


@pytest.mark.parametrize("name", ["dot_numpy", "dot_broadcast", "dist_numpy", "dist_sqrt",
                                  "dot_weighted_fixed_loop"])
def test_numpy_on_whole_vectors_is_vectorized(serve, name):
    submission, _ = serve(NAMESPACE)
    counted = assert_vectorized(submission, _vectors(submission, name), what=name)
    assert counted[0].elements == counted[1].elements  # nothing per element


@pytest.mark.parametrize("name", ["mm_numpy", "mm_einsum", "mm_columns"])
def test_numpy_on_whole_matrices_is_vectorized(serve, name):
    submission, _ = serve(NAMESPACE)
    counted = assert_vectorized(submission, _matrices(submission, name), what=name)
    assert counted[1].elements == 0 and counted[1].bulk >= 256 * 2


@pytest.mark.parametrize("name", ["mm_loops", "mm_row_loop", "mm_cell_dots"])
def test_loops_that_compute_the_result_use_loops(serve, name):
    submission, _ = serve(NAMESPACE)
    A, B = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    assert np.allclose(getattr(submission, name)(A, B), A @ B)
    # as the 01-numpy graders call matmul_loops
    counted = assert_uses_loops(submission, _matrices(submission, name, columns=2), what=name)
    assert counted[0].bulk == counted[1].bulk  # NumPy on a row or a scalar at most
    with pytest.raises(AssertionError, match="runs Python code for each element"):
        assert_vectorized(submission, _matrices(submission, name), what=name)


@pytest.mark.parametrize("name", ["mm_dummy_range", "mm_dummy_iteration", "mm_dummy_work",
                                  "mm_dummy_einsum"])
def test_a_loop_beside_a_vectorized_call_does_not_use_loops(serve, name):
    submission, _ = serve(NAMESPACE)
    call = _matrices(submission, name, columns=2)
    counted = count_python_work(submission, call, [8, 32])
    assert counted[1].lines - counted[0].lines >= 24  # the lines do grow with n ...
    with pytest.raises(AssertionError, match="computes with NumPy on whole arrays beside its loop"):
        assert_uses_loops(submission, call, what=name)  # ... but the loop does not do the work


def test_vectorized_numpy_does_not_use_loops(serve):
    submission, _ = serve(NAMESPACE)
    with pytest.raises(AssertionError, match="does not loop over the elements in Python"):
        assert_uses_loops(submission, _matrices(submission, "mm_numpy", columns=2))


def test_removing_the_hooks_during_the_call_is_seen(serve):
    submission, _ = serve(NAMESPACE)
    with pytest.raises(AssertionError, match="cannot be measured .*NumPy hooks were replaced"):
        assert_vectorized(submission, _vectors(submission, "dot_hooks_removed"))
    assert np.ndarray.__dict__["__iter__"] is ORIGINAL_ITER  # and the original is back
    with pytest.raises(TypeError, match="immutable type"):
        np.ndarray.anything = 1  # the type is immutable again


def test_the_hooks_are_gone_after_the_call(serve):
    """Outside a measured call NumPy is as it was: nothing counted, C slots and flags restored."""
    submission, runner = serve(NAMESPACE)
    flags = (np.ndarray.__flags__, np.ufunc.__flags__, type(np.dot).__flags__)
    count_python_work(submission, _vectors(submission, "dot_map_operator"), [4])
    assert np.ndarray.__dict__["__iter__"] is ORIGINAL_ITER
    mask = ~(1 << 19)  # the method cache's valid-version bit comes and goes
    assert [f & mask for f in flags] == [f & mask for f in (
        np.ndarray.__flags__, np.ufunc.__flags__, type(np.dot).__flags__)]
    assert submission.dot_map_operator(np.ones(3), np.ones(3)) == 3.0
    assert runner.counts is None


CHECKED = ("    A, B = np.asarray(A), np.asarray(B)\n"
           "    if A.shape[1] != B.shape[0]:\n        raise ValueError('shapes')\n")
EVASIONS = {  # as mutants of 01-numpy: graded in the sandbox by its hidden graders
    "map_c_method": ("matmul", "test_matmul", (
        "def matmul(A, B):\n" + CHECKED
        + "    return np.array(list(map(B.T.dot, A))).reshape(len(A), B.shape[1])\n")),
    "dummy_loop": ("matmul_loops", "test_matmul_loops", (
        "def matmul_loops(A, B):\n" + CHECKED
        + "    for i in range(A.shape[0]):\n        for j in range(B.shape[1]):\n"
        + "            pass\n    return (A @ B).astype(float)\n")),
}


def test_the_evasions_lose_points_in_the_sandbox(tmp_path):
    """The shipped 01-numpy graders, through the sandbox: each evasion fails the one test of
    the behaviour it dodges, while the reference keeps full marks."""
    folder = tmp_path / "01-numpy"
    shutil.copytree(REPO / "assignments" / "01-numpy", folder)
    shutil.rmtree(folder / "mutants")
    (folder / "mutants").mkdir()
    for name, (cell, test, code) in EVASIONS.items():
        (folder / "mutants" / f"{name}.json").write_text(json.dumps(
            {"description": name, "cells": {cell: code}, "must_fail": [test]}))
    check = check_assignment(folder)
    assert check.reference_score == 10
    assert {m.name: (m.caught, m.score) for m in check.mutants} == {
        "dummy_loop": (True, 9.0), "map_c_method": (True, 9.0)}

"""Hidden graders for assignment 01-numpy (never shown to students).

"Use loops" in (a) and "no Python loops" in (b) and (c) are measured while the student's code
runs (``assert_uses_loops``, ``assert_vectorized``): a loop reached through ``map``,
``np.vectorize``, ``exec`` or a helper counts, and ``np.dot`` in (a) is no loop. The static
``assert_no_loops`` stays as a second signal.

Inputs vary in dtype as the spec allows (integers, an integer times a float, uint8 points), and a
test of a property a stub also has (raising for bad shapes) earns its points only together with a
right result.
"""

import numpy as np
import pytest

from autograder.checks import assert_close, assert_no_loops, assert_uses_loops, assert_vectorized

RNG = np.random.default_rng(20261021)
SHAPES = [(1, 1, 1), (3, 5, 2), (4, 1, 6), (7, 3, 7), (2, 8, 1)]
BAD_SHAPES = [((2, 3), (4, 2)), ((3, 2), (3, 2)), ((1, 4), (3, 1)), ((2, 2), (3, 2))]


def mixed_dtypes():
    """(A, B) pairs of integers and floats: an int array times a float one must give floats."""
    ints, floats = np.array([[1, -2, 3], [4, 0, -1]]), np.array([[0.5, -1.25], [0.1, 2.0], [-0.3, 0.7]])
    return [(ints, floats), (floats.T, ints.T), (ints, ints.T)]


def reference_sq_dists(X, Y):
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)


# --- (a) loops -----------------------------------------------------------------------------------

@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(1.5)
def test_matmul_loops_matches_numpy(submission):
    for n, m, p in SHAPES:
        A, B = RNG.normal(size=(n, m)), RNG.normal(size=(m, p))
        assert_close(submission.matmul_loops(A, B), A @ B, what=f"matmul_loops on {(n, m)}x{(m, p)}")
    A, B = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)  # integers, not square
    assert_close(submission.matmul_loops(A, B), A @ B, what="matmul_loops on integer matrices")
    for A, B in mixed_dtypes():
        assert_close(submission.matmul_loops(A, B), A @ B,
                     what=f"matmul_loops of {A.dtype} A {A.tolist()} and {B.dtype} B {B.tolist()} "
                          "(the result must not be rounded to A's dtype)")


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(0.5)
def test_matmul_loops_rejects_bad_shapes(submission):
    A, B = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))  # raising alone earns nothing
    assert_close(submission.matmul_loops(A, B), A @ B, what="matmul_loops on (2, 3) x (3, 2)")
    for shape_a, shape_b in BAD_SHAPES:
        with pytest.raises(ValueError):
            submission.matmul_loops(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(1)
def test_matmul_loops_uses_loops(submission):
    A = RNG.normal(size=(3, 4))
    assert_close(submission.matmul_loops(A, A.T), A @ A.T, what="matmul_loops")  # no stub
    assert_uses_loops(submission, lambda n: submission.matmul_loops(np.ones((n, 2)), np.ones((2, 2))),
                      what="matmul_loops")


# --- (b) vectorized ------------------------------------------------------------------------------

@pytest.mark.cell("test_matmul")
@pytest.mark.points(2)
def test_matmul_matches_numpy(submission):
    for n, m, p in [*SHAPES, (50, 40, 30)]:
        A, B = RNG.normal(size=(n, m)), RNG.normal(size=(m, p))
        assert_close(submission.matmul(A, B), A @ B, what=f"matmul on {(n, m)}x{(m, p)}")
    for A, B in mixed_dtypes():
        assert_close(submission.matmul(A, B), A @ B,
                     what=f"matmul of {A.dtype} A {A.tolist()} and {B.dtype} B {B.tolist()}")
    for shape_a, shape_b in BAD_SHAPES:
        with pytest.raises(ValueError):
            submission.matmul(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.cell("test_matmul")
@pytest.mark.points(1)
def test_matmul_is_vectorized(submission):
    A, B = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    assert_close(submission.matmul(A, B), A @ B, what="matmul")  # a stub earns nothing here
    assert_vectorized(submission, lambda n: submission.matmul(np.ones((n, 3)), np.ones((3, 2))),
                      what="matmul")
    assert_no_loops(submission.source, "matmul")


# --- (c) broadcasting ----------------------------------------------------------------------------

@pytest.mark.cell("test_pairwise")
@pytest.mark.points(2)
def test_pairwise_matches_definition(submission):
    for n, m, d in [(1, 1, 1), (4, 3, 2), (5, 7, 3), (2, 2, 5), (8, 2, 1), (30, 20, 5)]:
        X, Y = RNG.normal(size=(n, d)), RNG.normal(size=(m, d)) * 3.0 + 1.0
        assert_close(submission.pairwise_sq_dists(X, Y), reference_sq_dists(X, Y),
                     what=f"pairwise_sq_dists for X {X.shape}, Y {Y.shape}")
    # integer points: int64 against floats, and uint8 pixels (a difference must not wrap around)
    X, Y = np.array([[0, 3], [-2, 5], [7, 1]]), np.array([[0.5, 2.5], [-1.0, 0.0]])
    assert_close(submission.pairwise_sq_dists(X, Y), reference_sq_dists(X, Y),
                 what=f"pairwise_sq_dists for the integer X {X.tolist()} and the float Y {Y.tolist()}")
    X = np.array([[0, 255, 10], [200, 3, 128]], dtype=np.uint8)
    Y = np.array([[255, 0, 12], [1, 250, 100], [200, 3, 128]], dtype=np.uint8)
    assert_close(submission.pairwise_sq_dists(X, Y), reference_sq_dists(X.astype(float), Y.astype(float)),
                 what=f"pairwise_sq_dists for uint8 X {X.tolist()} and Y {Y.tolist()} (compute in "
                      "floats: uint8 differences wrap around)")


@pytest.mark.cell("test_pairwise")
@pytest.mark.points(1)
def test_pairwise_properties(submission):
    X = RNG.normal(size=(6, 4))
    D = np.asarray(submission.pairwise_sq_dists(X, X), dtype=float)
    assert_close(D, reference_sq_dists(X, X), what="pairwise_sq_dists(X, X)")  # no stub
    assert_close(np.diag(D), np.zeros(6), atol=1e-9, what="distances of the points to themselves")
    assert_close(D, D.T, what="pairwise_sq_dists(X, X) (must be symmetric)")
    X, Y = RNG.normal(size=(5, 3)), RNG.normal(size=(4, 3)) * 3.0 + 1.0
    remote_X, remote_Y = submission.remote(X), submission.remote(Y)
    D = submission.pairwise_sq_dists(remote_X, remote_Y)
    assert_close(D, reference_sq_dists(X, Y), what="pairwise_sq_dists(X, Y)")
    assert np.all(np.asarray(D) >= -1e-9), "squared distances must not be negative"
    assert_close(submission.fetch(remote_X), X, what="X after pairwise_sq_dists (must not change)")
    assert_close(submission.fetch(remote_Y), Y, what="Y after pairwise_sq_dists (must not change)")


@pytest.mark.cell("test_pairwise")
@pytest.mark.points(1)
def test_pairwise_is_vectorized(submission):
    X, Y = RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2))
    assert_close(submission.pairwise_sq_dists(X, Y), reference_sq_dists(X, Y),
                 what="pairwise_sq_dists")
    assert_vectorized(submission, lambda n: submission.pairwise_sq_dists(np.ones((n, 2)),
                                                                         np.zeros((n, 2))),
                      what="pairwise_sq_dists")
    assert_no_loops(submission.source, "pairwise_sq_dists")

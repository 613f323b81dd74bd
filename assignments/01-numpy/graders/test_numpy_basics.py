"""Hidden graders for assignment 01-numpy (never shown to students)."""

import numpy as np
import pytest

from autograder.checks import assert_close, assert_no_loops

RNG = np.random.default_rng(20261021)
SHAPES = [(1, 1, 1), (3, 5, 2), (4, 1, 6), (7, 3, 7), (2, 8, 1)]


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(2)
def test_matmul_loops_matches_numpy(submission):
    for n, m, p in SHAPES:
        A, B = RNG.normal(size=(n, m)), RNG.normal(size=(m, p))
        assert_close(submission.matmul_loops(A, B), A @ B, what=f"matmul_loops on {(n, m)}x{(m, p)}")


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(1)
def test_matmul_loops_rejects_bad_shapes(submission):
    with pytest.raises(ValueError):
        submission.matmul_loops(np.ones((2, 3)), np.ones((4, 2)))


@pytest.mark.cell("test_matmul")
@pytest.mark.points(2)
def test_matmul_matches_numpy(submission):
    for n, m, p in SHAPES:
        A, B = RNG.normal(size=(n, m)), RNG.normal(size=(m, p))
        assert_close(submission.matmul(A, B), A @ B, what=f"matmul on {(n, m)}x{(m, p)}")


@pytest.mark.cell("test_matmul")
@pytest.mark.points(1)
def test_matmul_is_vectorized(submission):
    A, B = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    assert_close(submission.matmul(A, B), A @ B, what="matmul")  # a stub earns nothing here
    assert_no_loops(submission.source, "matmul")


@pytest.mark.cell("test_pairwise")
@pytest.mark.points(3)
def test_pairwise_matches_definition(submission):
    for n, m, d in [(1, 1, 1), (4, 3, 2), (5, 7, 3), (2, 2, 5)]:
        X, Y = RNG.normal(size=(n, d)), RNG.normal(size=(m, d))
        expected = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)
        assert_close(submission.pairwise_sq_dists(X, Y), expected,
                     what=f"pairwise_sq_dists for X {X.shape}, Y {Y.shape}")


@pytest.mark.cell("test_pairwise")
@pytest.mark.points(1)
def test_pairwise_is_vectorized(submission):
    X, Y = RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2))
    expected = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)
    assert_close(submission.pairwise_sq_dists(X, Y), expected, what="pairwise_sq_dists")
    assert_no_loops(submission.source, "pairwise_sq_dists")

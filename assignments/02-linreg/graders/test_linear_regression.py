"""Hidden graders for assignment 02-linreg (never shown to students)."""

import numpy as np
import pytest

from autograder.checks import assert_close, gradient_check


def make_data(n, d, seed, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, d))
    w, b = rng.normal(size=d) * 2.0, float(rng.normal())
    return X, X @ w + b + noise * rng.normal(size=n), w, b


@pytest.mark.cell("test_predict")
@pytest.mark.points(2)
def test_predict_is_affine(submission):
    rng = np.random.default_rng(7)
    for n, d in [(1, 1), (10, 3), (25, 5)]:
        X, w, b = rng.normal(size=(n, d)), rng.normal(size=d), float(rng.normal())
        assert_close(submission.predict(X, w, b), X @ w + b, what=f"predict for X {X.shape}")


@pytest.mark.cell("test_rms_loss")
@pytest.mark.points(2)
def test_rms_loss(submission):
    rng = np.random.default_rng(11)
    for n in [1, 7, 100]:
        a, c = rng.normal(size=n) * 3.0, rng.normal(size=n)
        loss = submission.rms_loss(a, c)
        assert np.ndim(loss) == 0, f"rms_loss must return a scalar, got shape {np.shape(loss)}"
        assert_close(loss, np.sqrt(np.mean((a - c) ** 2)), what=f"rms_loss for n={n}")


@pytest.mark.cell("test_gradients")
@pytest.mark.points(3)
def test_gradients_match_finite_differences(submission):
    for n, d, seed in [(1, 1, 0), (10, 3, 1), (57, 4, 2)]:
        X, y, _, _ = make_data(n, d, seed)
        rng = np.random.default_rng(100 + seed)
        w, b = rng.normal(size=d), float(rng.normal())
        _dw, db = submission.gradients(X, y, w, b)
        assert np.ndim(db) == 0, "db must be a scalar"
        check_gradients(submission, X, y, w, b, what=f"n={n}, d={d}")


def check_gradients(submission, X, y, w, b, what):
    gradient_check(lambda v: np.mean((X @ v + b - y) ** 2),
                   lambda v: np.asarray(submission.gradients(X, y, v, b)[0]), w,
                   tol=1e-6, what=f"dw for {what}")
    gradient_check(lambda v: np.mean((X @ w + v[0] - y) ** 2),
                   lambda v: np.array([submission.gradients(X, y, w, float(v[0]))[1]]),
                   np.array([b]), tol=1e-6, what=f"db for {what}")


@pytest.mark.cell("test_fit")
@pytest.mark.points(1)
def test_fit_first_step_is_exact(submission):
    X, y, _, _ = make_data(30, 2, 5)
    w, b, history = submission.fit(X, y, lr=0.1, epochs=1)
    err = -y  # the residual at w = 0, b = 0
    assert_close(w, -0.1 * 2 / 30 * X.T @ err, what="w after one step from zero")
    assert_close(b, -0.1 * 2 / 30 * err.sum(), what="b after one step from zero")
    assert len(history) == 1, "history must have one entry per epoch"


@pytest.mark.cell("test_fit")
@pytest.mark.points(2)
def test_fit_converges_to_least_squares(submission):
    for n, d, seed in [(100, 1, 3), (80, 3, 4)]:
        X, y, _, _ = make_data(n, d, seed)
        w, b, history = submission.fit(X, y, lr=0.1, epochs=800)
        A = np.hstack([X, np.ones((n, 1))])
        solution = np.linalg.lstsq(A, y, rcond=None)[0]
        assert_close(w, solution[:-1], atol=1e-3, rtol=0, what="fitted w")
        assert_close(b, solution[-1], atol=1e-3, rtol=0, what="fitted b")
        history = np.asarray(history, dtype=float)
        assert history.shape == (800,), f"history must have one loss per epoch, got {history.shape}"
        assert np.all(np.diff(history) <= 1e-12), "the loss must decrease at every epoch"
        assert_close(history[-1], np.sqrt(np.mean((X @ np.atleast_1d(w) + b - y) ** 2)),
                     rtol=1e-6, what="history holds the RMS loss")

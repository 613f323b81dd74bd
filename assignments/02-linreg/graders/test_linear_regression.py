"""Hidden graders for assignment 02-linreg (never shown to students).

The spec allows integer X and y (the weights and losses are floats all the same), so each part
is also run on integers; arrays a function must leave alone are passed with ``submission.remote``
(a plain argument reaches the notebook as a copy) and read back, and that check earns points only
together with a right result.
"""

import numpy as np
import pytest

from autograder.checks import assert_close, gradient_check


def integer_data(n, d, seed):
    """Small integer features and integer targets (counts)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, size=(n, d))
    return X, X @ rng.integers(-3, 4, size=d) + rng.integers(-1, 2, size=n) + 2


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
    assert_close(submission.predict(np.zeros((4, 2)), np.ones(2), -1.5), np.full(4, -1.5),
                 what="predict for X of zeros (every prediction is b)")
    X, _ = integer_data(6, 2, 8)
    w = np.array([0.5, -1.25])
    assert_close(submission.predict(X, w, 0.25), X @ w + 0.25, what="predict for an integer X")


@pytest.mark.cell("test_rms_loss")
@pytest.mark.points(2)
def test_rms_loss(submission):
    rng = np.random.default_rng(11)
    for n in [1, 7, 100]:
        a, c = rng.normal(size=n) * 3.0, rng.normal(size=n)
        loss = submission.rms_loss(a, c)
        assert np.ndim(loss) == 0, f"rms_loss must return a scalar, got shape {np.shape(loss)}"
        assert_close(loss, np.sqrt(np.mean((a - c) ** 2)), what=f"rms_loss for n={n}")
        assert_close(submission.rms_loss(c, a), loss, what="rms_loss with its arguments swapped")
    assert_close(submission.rms_loss(np.zeros(4), np.array([1.0, -1.0, 3.0, -3.0])), np.sqrt(5.0),
                 what="rms_loss(zeros, [1, -1, 3, -3])")
    assert_close(submission.rms_loss(np.array([3, 1, 4]), np.array([1, 5, 9])), np.sqrt(15.0),
                 what="rms_loss([3, 1, 4], [1, 5, 9]) (integers)")
    # the caller's arrays stay as they were: passed as live objects, read back afterwards
    a, c = rng.normal(size=6), rng.normal(size=6)
    remote_a, remote_c = submission.remote(a), submission.remote(c)
    assert_close(submission.rms_loss(remote_a, remote_c), np.sqrt(np.mean((a - c) ** 2)),
                 what="rms_loss for n=6")
    assert_close(submission.fetch(remote_a), a, what="y_pred after rms_loss (must not change)")
    assert_close(submission.fetch(remote_c), c, what="y after rms_loss (must not change)")


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
    X, y = integer_data(9, 2, 9)
    check_gradients(submission, X, y, np.array([0.5, -1.5]), 0.25,
                    what="integer X and y (n=9, d=2)")
    remote = [submission.remote(v) for v in (X, y, np.array([0.5, -1.5]))]
    dw, db = submission.gradients(*remote, 0.25)
    err = X @ np.array([0.5, -1.5]) + 0.25 - y
    assert_close(dw, 2 / 9 * X.T @ err, what="dw for integer X and y")
    assert_close(db, 2 / 9 * err.sum(), what="db for integer X and y")
    for name, value, ref in zip(["X", "y", "w"], (X, y, np.array([0.5, -1.5])), remote):
        assert_close(submission.fetch(ref), value, what=f"{name} after gradients (must not change)")


def check_gradients(submission, X, y, w, b, what):
    gradient_check(lambda v: np.mean((X @ v + b - y) ** 2),
                   lambda v: np.asarray(submission.gradients(X, y, v, b)[0]), w,
                   tol=1e-6, what=f"dw for {what}")
    gradient_check(lambda v: np.mean((X @ w + v[0] - y) ** 2),
                   lambda v: np.array([submission.gradients(X, y, w, float(v[0]))[1]]),
                   np.array([b]), tol=1e-6, what=f"db for {what}")


def reference_fit(X, y, lr, epochs):
    """The spec's gradient descent: history[i] is the RMS loss before update i."""
    w, b, history = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        err = X @ w + b - y
        history.append(np.sqrt(np.mean(err ** 2)))
        w, b = w - lr * 2 / len(y) * X.T @ err, b - lr * 2 / len(y) * err.sum()
    return w, b, history


@pytest.mark.cell("test_fit")
@pytest.mark.points(1)
def test_fit_first_steps_follow_lr_and_epochs(submission):
    """The first updates, for several learning rates: a loop that ignores ``lr`` or records
    the loss after its update shows here, not in the end state after many epochs."""
    for X, y, lr, epochs in [(*make_data(30, 2, 5)[:2], 0.1, 1), (*make_data(30, 2, 5)[:2], 0.01, 3),
                             (*make_data(30, 2, 5)[:2], 0.35, 2), (*integer_data(25, 2, 10), 0.05, 3)]:
        w, b, history = submission.fit(X, y, lr=lr, epochs=epochs)
        w_ref, b_ref, history_ref = reference_fit(X, y, lr, epochs)
        kind = "integer" if X.dtype.kind == "i" else "float"
        assert_close(w, w_ref, what=f"w after {epochs} step(s) from zero with lr={lr} ({kind} X, y)")
        assert_close(b, b_ref, what=f"b after {epochs} step(s) from zero with lr={lr}")
        assert len(history) == epochs, "history must have one entry per epoch"
        assert_close(np.asarray(history, dtype=float), history_ref,
                     what=f"history with lr={lr}, epochs={epochs} (the RMS loss before each update)")


@pytest.mark.cell("test_fit")
@pytest.mark.points(0.5)
def test_fit_leaves_its_inputs_alone(submission):
    """Only together with a right result: a fit that does nothing leaves its inputs alone too."""
    X, y, _, _ = make_data(40, 3, 6)
    remote_X, remote_y = submission.remote(X), submission.remote(y)
    w, b, history = submission.fit(remote_X, remote_y, lr=0.1, epochs=20)
    w_ref, b_ref, history_ref = reference_fit(X, y, 0.1, 20)
    assert_close(w, w_ref, what="w after 20 epochs with lr=0.1")
    assert_close(b, b_ref, what="b after 20 epochs with lr=0.1")
    assert_close(np.asarray(history, dtype=float), history_ref, what="history after 20 epochs")
    assert_close(submission.fetch(remote_X), X, what="X after fit (must not change)")
    assert_close(submission.fetch(remote_y), y, what="y after fit (must not change)")


@pytest.mark.cell("test_fit")
@pytest.mark.points(1.5)
def test_fit_converges_to_least_squares(submission):
    for n, d, seed in [(100, 1, 3), (80, 3, 4)]:
        X, y, true_w, true_b = make_data(n, d, seed)
        w, b, history = submission.fit(X, y, lr=0.1, epochs=800)
        A = np.hstack([X, np.ones((n, 1))])
        solution = np.linalg.lstsq(A, y, rcond=None)[0]
        assert_close(w, solution[:-1], atol=1e-3, rtol=0, what="fitted w")
        assert_close(b, solution[-1], atol=1e-3, rtol=0, what="fitted b")
        history = np.asarray(history, dtype=float)
        assert history.shape == (800,), f"history must have one loss per epoch, got {history.shape}"
        assert np.all(np.diff(history) <= 1e-12), "the loss must decrease at every epoch"
        assert_close(history[0], np.sqrt(np.mean(y ** 2)), rtol=1e-9,
                     what="history[0] (the RMS loss at w = 0, b = 0, before the first update)")
        assert_close(w, true_w, atol=0.15, rtol=0, what="fitted w (against the true weights)")
        assert_close(b, true_b, atol=0.15, rtol=0, what="fitted b (against the true bias)")

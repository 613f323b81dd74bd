"""Hidden graders for assignment 05-softmax (never shown to students).

Integer logits and features, which the spec allows, are graded too; logits a function must leave
alone are passed with ``submission.remote`` and read back, a check that earns points only together
with a right result. The gradient-descent loop is given in the notebook (assignment 4 taught it):
what it trains is graded through the student's gradients, which is why those are graded on integer
features too.
"""

import numpy as np
import pytest

from autograder.checks import assert_array, assert_close, gradient_check


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, y):
    m = Z.max(axis=1)
    return float(np.mean(m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - Z[np.arange(len(y)), y]))


def model_loss(W, b, X, y):
    return cross_entropy(X @ W + b, y)


# --- (a) softmax -------------------------------------------------------------------------------

@pytest.mark.cell("test_softmax")
@pytest.mark.points(1)
def test_softmax_values(submission):
    rng = np.random.default_rng(501)
    for n, k in [(1, 2), (5, 3), (8, 10)]:
        Z = rng.normal(size=(n, k)) * 3.0
        assert_close(submission.softmax(Z), softmax(Z), what=f"softmax of logits of shape {(n, k)}")
    Z = np.array([[1, 2, 3], [0, 0, 0], [-4, 2, 1]])  # integer logits: float probabilities
    assert_close(submission.softmax(Z), softmax(Z.astype(float)),
                 what=f"softmax of the integer logits {Z.tolist()}")
    Z = rng.normal(size=(4, 3)) * 3.0
    remote_Z = submission.remote(Z)
    assert_close(submission.softmax(remote_Z), softmax(Z), what="softmax of logits of shape (4, 3)")
    assert_close(submission.fetch(remote_Z), Z,
                 what="the caller's Z after softmax (must not change: subtract into a new array)")


@pytest.mark.cell("test_softmax")
@pytest.mark.points(1)
def test_softmax_large_logits(submission):
    rng = np.random.default_rng(502)
    Z = rng.normal(size=(6, 4)) * 5.0
    for shift in [800.0, -900.0]:
        assert_close(submission.softmax(Z + shift), softmax(Z),
                     what=f"softmax of logits around {shift:g} (must equal softmax of the logits "
                          "without the shift)")
    Z = np.array([[1000.0, 0.0, -1000.0], [-5.0, 710.0, 709.0]])
    assert_close(submission.softmax(Z), softmax(Z), atol=1e-12,
                 what=f"softmax of {Z.tolist()}")
    # rows of very different scales: each row needs its own maximum
    for Z in (np.array([[800.0, 801.0], [0.0, 1.0]]),
              np.array([[-3.0, 2.0, 0.5], [1000.0, 998.0, 999.0], [-900.0, -905.0, -899.0]])):
        assert_close(submission.softmax(Z), softmax(Z), atol=1e-12,
                     what=f"softmax of {Z.tolist()} (rows of very different scales)")


# --- (b) one-hot and cross-entropy -------------------------------------------------------------

@pytest.mark.cell("test_cross_entropy")
@pytest.mark.points(1)
def test_one_hot_and_cross_entropy(submission):
    y = np.array([3, 0, 2, 2, 1])
    Y = submission.one_hot(y, 4)
    assert_array(Y, shape=(5, 4), what="one_hot(y, 4) for 5 labels")
    assert_close(Y, np.eye(4)[y], what=f"one_hot({y.tolist()}, 4)")
    y = np.array([1, 0, 1])  # no example of the largest classes: k, not the labels, sets the width
    Y = submission.one_hot(y, 4)
    assert_array(Y, shape=(3, 4), what="one_hot([1, 0, 1], 4) (k = 4 columns even though no "
                 "label is 2 or 3)")
    assert_close(Y, np.eye(4)[y], what="one_hot([1, 0, 1], 4)")
    rng = np.random.default_rng(503)
    for n, k in [(1, 3), (7, 4), (30, 6)]:
        Z, y = rng.normal(size=(n, k)) * 2.0, rng.integers(0, k, size=n)
        value = submission.cross_entropy(Z, y)
        assert np.ndim(value) == 0, "cross_entropy must return a number"
        assert_close(value, -np.mean(np.log(softmax(Z)[np.arange(n), y])),
                     what=f"cross_entropy for logits of shape {(n, k)}")
    Z, y = np.array([[1, 2, 3], [0, 0, 0], [-4, 2, 1]]), np.array([0, 2, 1])
    assert_close(submission.cross_entropy(Z, y), cross_entropy(Z.astype(float), y),
                 what=f"cross_entropy of the integer logits {Z.tolist()}")
    Z, y = rng.normal(size=(5, 3)) * 2.0, np.array([2, 0, 1, 1, 0])
    remote_Z, remote_y = submission.remote(Z), submission.remote(y)
    assert_close(submission.cross_entropy(remote_Z, remote_y), cross_entropy(Z, y),
                 what="cross_entropy for logits of shape (5, 3)")
    assert_close(submission.fetch(remote_Z), Z, what="the caller's Z after cross_entropy (must not change)")
    assert_close(submission.fetch(remote_y), y, what="the caller's y after cross_entropy (must not change)")


@pytest.mark.cell("test_cross_entropy")
@pytest.mark.points(1)
def test_cross_entropy_extreme_logits(submission):
    Z = np.array([[900.0, 0.0, 10.0], [-5.0, 3.0, 800.0], [1000.0, 999.0, 998.0]])
    y = np.array([1, 0, 2])
    assert_close(submission.cross_entropy(Z, y), cross_entropy(Z, y), rtol=1e-9,
                 what=f"cross_entropy of logits {Z.tolist()} with labels {y.tolist()}")
    Z, y = np.array([[900.0, 901.0], [0.0, 1.0], [-850.0, -852.0]]), np.array([1, 0, 0])
    assert_close(submission.cross_entropy(Z, y), cross_entropy(Z, y), rtol=1e-9,
                 what=f"cross_entropy of logits {Z.tolist()} with labels {y.tolist()} (rows of "
                      "very different scales)")


# --- (c) the gradient from the logits --------------------------------------------------------

def logit_grad(Z, y):
    return (softmax(Z) - np.eye(Z.shape[1])[y]) / len(y)


@pytest.mark.cell("test_logit_grad")
@pytest.mark.points(1)
def test_cross_entropy_grad_matches_finite_differences(submission):
    rng = np.random.default_rng(510)
    for n, k in [(1, 2), (7, 4), (20, 6)]:
        Z = rng.normal(size=(n, k)) * 2.0
        y = rng.integers(0, k - 1, size=n)  # never the last class: k comes from Z, not from y
        gradient_check(lambda v, y=y, shape=Z.shape: cross_entropy(v.reshape(shape), y),
                       lambda v, y=y, shape=Z.shape: np.asarray(
                           submission.cross_entropy_grad(v.reshape(shape), y)).reshape(-1),
                       Z.reshape(-1), tol=1e-6,
                       what=f"cross_entropy_grad (flattened) for logits of shape {(n, k)} and "
                            f"labels {y.tolist()[:8]} (k = {k} columns even without class {k - 1})")


@pytest.mark.cell("test_logit_grad")
@pytest.mark.points(1)
def test_cross_entropy_grad_extreme_and_integer_logits(submission):
    Z, y = np.array([[900.0, 0.0, 10.0], [-5.0, 3.0, 800.0], [1000.0, 999.0, 998.0]]), np.array([1, 0, 2])
    dZ = submission.cross_entropy_grad(Z, y)
    assert_array(dZ, shape=(3, 3), dtype_kind="f", what="cross_entropy_grad for 3 examples, 3 classes")
    assert_close(dZ, logit_grad(Z, y), atol=1e-12,
                 what=f"cross_entropy_grad of logits {Z.tolist()} with labels {y.tolist()}")
    Z, y = np.array([[800.0, 801.0], [0.0, 1.0], [-850.0, -852.0]]), np.array([1, 0, 0])
    assert_close(submission.cross_entropy_grad(Z, y), logit_grad(Z, y), atol=1e-12,
                 what=f"cross_entropy_grad of logits {Z.tolist()} with labels {y.tolist()} (rows "
                      "of very different scales)")
    Z, y = np.array([[1, 2, 3], [0, 0, 0], [-4, 2, 1], [5, -5, 0]]), np.array([0, 2, 1, 0])
    dZ = submission.cross_entropy_grad(Z, y)
    assert_array(dZ, shape=(4, 3), dtype_kind="f", what="cross_entropy_grad of integer logits")
    assert_close(dZ, logit_grad(Z.astype(float), y),
                 what=f"cross_entropy_grad of the integer logits {Z.tolist()}")
    Z, y = np.random.default_rng(511).normal(size=(5, 4)) * 2.0, np.array([3, 0, 1, 1, 0])
    remote_Z = submission.remote(Z)
    assert_close(submission.cross_entropy_grad(remote_Z, y), logit_grad(Z, y),
                 what="cross_entropy_grad for logits of shape (5, 4)")
    assert_close(submission.fetch(remote_Z), Z,
                 what="the caller's Z after cross_entropy_grad (must not change)")


# --- (d) the model's gradient ------------------------------------------------------------------

GRAD_CASES = [(1, 2, 2, 504), (9, 4, 3, 505), (25, 3, 5, 506)]


def grad_case(n, d, k, seed, integer_X=False):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(d, k)), rng.normal(size=k)
    X = rng.integers(0, 6, size=(n, d)) if integer_X else rng.normal(size=(n, d))
    return W, b, X, rng.integers(0, k, size=n)


def every_case():
    """The float cases, and one with integer features (counts), which the spec allows."""
    return [grad_case(*case) for case in GRAD_CASES] + [grad_case(8, 3, 4, 512, integer_X=True)]


def kind(X):
    return "integer" if X.dtype.kind == "i" else "float"


@pytest.mark.cell("test_grads")
@pytest.mark.points(1)
def test_grads_loss(submission):
    for W, b, X, y in every_case():
        loss, dW, db = submission.softmax_regression_grads(W, b, X, y)
        assert np.ndim(loss) == 0, "the loss must be a number"
        assert_close(loss, model_loss(W, b, X, y),
                     what=f"loss for {kind(X)} X {X.shape}, W {W.shape} (b is not zero)")
        assert_array(dW, shape=W.shape, dtype_kind="f", what=f"dW for W of shape {W.shape}")
        assert_array(db, shape=b.shape, dtype_kind="f", what=f"db for b of shape {b.shape}")


def check_dW(submission, W, b, X, y):
    gradient_check(lambda v: model_loss(v.reshape(W.shape), b, X, y),
                   lambda v: np.asarray(submission.softmax_regression_grads(
                       v.reshape(W.shape), b, X, y)[1]).reshape(-1),
                   W.reshape(-1), tol=1e-6,
                   what=f"dW (flattened) for {kind(X)} X {X.shape}, W {W.shape}")


def check_db(submission, W, b, X, y):
    gradient_check(lambda v: model_loss(W, v, X, y),
                   lambda v: np.asarray(submission.softmax_regression_grads(W, v, X, y)[2]),
                   b, tol=1e-6, what=f"db for {kind(X)} X {X.shape}, W {W.shape}")


@pytest.mark.cell("test_grads")
@pytest.mark.points(1)
def test_dW_matches_finite_differences(submission):
    for case in every_case():
        check_dW(submission, *case)


@pytest.mark.cell("test_grads")
@pytest.mark.points(1)
def test_db_matches_finite_differences(submission):
    for case in every_case():
        check_db(submission, *case)


# --- (e) prediction (the training loop is given) -----------------------------------------------

@pytest.mark.cell("test_predict")
@pytest.mark.points(1)
def test_predict(submission):
    rng = np.random.default_rng(509)
    W, b, X = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(30, 4))
    labels = submission.predict(W, b, X)
    assert_array(labels, shape=(30,), dtype_kind="i", what="predict for 30 examples")
    assert_close(labels, np.argmax(X @ W + b, axis=1), what="predicted classes")
    X = rng.integers(0, 5, size=(12, 4))  # integer features, as fit_softmax allows
    assert_close(submission.predict(W, b, X), np.argmax(X @ W + b, axis=1),
                 what="predicted classes for an integer X")

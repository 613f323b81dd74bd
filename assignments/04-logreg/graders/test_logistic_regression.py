"""Hidden graders for assignment 04-logreg (never shown to students).

Integer inputs, which the spec allows (z, X, y, whole-degree temperatures), are graded too; arrays
a function must leave alone are passed with ``submission.remote`` and read back, a check that
earns points only together with a right result.
"""

import contextlib

import numpy as np
import pytest

from autograder.checks import assert_array, assert_close, gradient_check

# data/challenger.csv, as shipped: (temperature in °F, failure 0/1) for the 23 flights
CHALLENGER = np.array([
    (66, 0), (70, 1), (69, 0), (68, 0), (67, 0), (72, 0), (73, 0), (70, 0), (57, 1), (63, 1),
    (70, 1), (78, 0), (67, 0), (53, 1), (67, 0), (75, 0), (70, 0), (81, 0), (76, 0), (79, 0),
    (75, 1), (58, 1), (76, 0)])
# maximum-likelihood fit of failure ~ temperature (statsmodels Logit; Dalal et al. 1989)
CHALLENGER_MLE = (15.0429016, -0.2321627)


def sigmoid(z):
    with np.errstate(over="ignore"):
        return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) /
                        (1 + np.exp(-np.abs(z))))


def loss(w, b, X, y):
    z = X @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def make_data(n, d, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * scale
    w, b = rng.normal(size=d) * 1.5, float(rng.normal())
    y = (rng.uniform(size=n) < sigmoid(X @ w + b)).astype(float)
    return X, y


def newton(X, y, iterations=50):
    """Maximum-likelihood (w, b) by Newton's method: the answer gradient descent approaches."""
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.zeros(A.shape[1])
    for _ in range(iterations):
        p = sigmoid(A @ theta)
        theta -= np.linalg.solve(A.T @ (A * (p * (1 - p))[:, None]), A.T @ (p - y))
    return theta[:-1], theta[-1]


# --- (a) sigmoid -------------------------------------------------------------------------------

@pytest.mark.cell("test_sigmoid")
@pytest.mark.points(1)
def test_sigmoid_values(submission):
    rng = np.random.default_rng(401)
    for shape in [(7,), (3, 4), (2, 3, 2)]:
        z = rng.normal(size=shape) * 6.0
        assert_close(submission.sigmoid(z), sigmoid(z), what=f"sigmoid of an array of shape {shape}")
    assert_close(submission.sigmoid(0.0), 0.5, what="sigmoid(0.0)")
    z = np.arange(-6, 7).reshape(13, 1)  # integers: the probabilities are floats all the same
    assert_close(submission.sigmoid(z), sigmoid(z), what=f"sigmoid of the integers {z.ravel().tolist()}")
    assert_close(submission.sigmoid(2), sigmoid(np.array(2.0)), what="sigmoid(2) (an integer)")


@pytest.mark.cell("test_sigmoid")
@pytest.mark.points(1)
def test_sigmoid_never_overflows(submission):
    z = np.array([-1000.0, -745.5, -80.0, -1.5, 0.0, 2.5, 50.0, 800.0])
    old = submission.np.seterr(over="raise")  # in the notebook's process
    try:
        result = submission.sigmoid(z)
    except FloatingPointError:
        raise AssertionError("sigmoid overflows for large |z| (e.g. z = -1000): compute it "
                             "from exp(-|z|), and never evaluate exp of a large number, not "
                             "even in a branch np.where discards") from None
    finally:
        with contextlib.suppress(Exception):
            submission.np.seterr(**old)
    assert_close(result, sigmoid(z), rtol=1e-9, atol=1e-300,
                 what=f"sigmoid of {z.tolist()}")


# --- (b) loss ----------------------------------------------------------------------------------

@pytest.mark.cell("test_loss")
@pytest.mark.points(1)
def test_loss_values(submission):
    for n, d, seed in [(1, 1, 402), (10, 3, 403), (50, 2, 404)]:
        X, y = make_data(n, d, seed)
        w, b = np.random.default_rng(seed).normal(size=d), 0.3
        p = sigmoid(X @ w + b)
        expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        value = submission.logistic_loss(w, b, X, y)
        assert np.ndim(value) == 0, "logistic_loss must return a number"
        assert_close(value, expected, what=f"logistic_loss for X of shape {X.shape}")


@pytest.mark.cell("test_loss")
@pytest.mark.points(1)
def test_loss_confident_predictions(submission):
    # logits of several hundred: p rounds to exactly 0 or 1, the loss is still finite
    X = np.array([[-3.0, 1.0], [2.0, 0.5], [0.2, -4.0], [5.0, 5.0]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    for w, b in [(np.array([250.0, 10.0]), 5.0), (np.array([-40.0, 30.0]), -2.0)]:
        assert_close(submission.logistic_loss(w, b, X, y), loss(w, b, X, y), rtol=1e-9,
                     what=f"logistic_loss for logits {np.round(X @ w + b, 1).tolist()} "
                          f"and labels {y.tolist()}")


# --- (c) gradients -----------------------------------------------------------------------------

GRADIENT_CASES = [(1, 1, 405), (12, 3, 406), (40, 5, 407)]


def gradient_case(n, d, seed):
    X, y = make_data(n, d, seed)
    rng = np.random.default_rng(seed + 100)
    return X, y, rng.normal(size=d), float(rng.normal())


@pytest.mark.cell("test_gradients")
@pytest.mark.points(1)
def test_dw_matches_finite_differences(submission):
    for case in GRADIENT_CASES:
        X, y, w, b = gradient_case(*case)
        gradient_check(lambda v, X=X, y=y, b=b: loss(v, b, X, y),
                       lambda v, X=X, y=y, b=b: np.asarray(
                           submission.logistic_gradients(v, b, X, y)[0]),
                       w, tol=1e-6, what=f"dw for X of shape {X.shape}")


@pytest.mark.cell("test_gradients")
@pytest.mark.points(1)
def test_db_matches_finite_differences(submission):
    for case in GRADIENT_CASES:
        X, y, w, b = gradient_case(*case)
        db = submission.logistic_gradients(w, b, X, y)[1]
        assert np.ndim(db) == 0, "db must be a number"
        gradient_check(lambda v, X=X, y=y, w=w: loss(w, v[0], X, y),
                       lambda v, X=X, y=y, w=w: np.array(
                           [submission.logistic_gradients(w, float(v[0]), X, y)[1]]),
                       np.array([b]), tol=1e-6, what=f"db for X of shape {X.shape}")


# --- (d) gradient descent ----------------------------------------------------------------------

@pytest.mark.cell("test_fit")
@pytest.mark.points(1)
def test_fit_first_steps_are_exact(submission):
    rng = np.random.default_rng(412)
    cases = [(*make_data(30, 2, 408), "float"),
             (rng.integers(-2, 3, size=(20, 2)), rng.integers(0, 2, size=20), "integer")]
    for X, y, kind in cases:
        remote_X, remote_y = submission.remote(X), submission.remote(y)
        w, b, history = submission.fit_logistic(remote_X, remote_y, lr=0.7, epochs=2)
        w_ref, b_ref, expected = np.zeros(2), 0.0, []
        for _ in range(2):  # history[i]: the loss before update i
            expected.append(loss(w_ref, b_ref, X, y))
            r = sigmoid(X @ w_ref + b_ref) - y
            w_ref, b_ref = w_ref - 0.7 * X.T @ r / len(y), b_ref - 0.7 * r.mean()
        assert_close(w, w_ref, what=f"w after two steps from zero with lr=0.7 ({kind} X and y)")
        assert_close(b, b_ref, what=f"b after two steps from zero with lr=0.7 ({kind} X and y)")
        assert_close(np.asarray(history, dtype=float), expected,
                     what=f"history (the loss before each of the two updates; {kind} X and y)")
        assert_close(submission.fetch(remote_X), X, what="X after fit_logistic (must not change)")
        assert_close(submission.fetch(remote_y), y, what="y after fit_logistic (must not change)")


@pytest.mark.cell("test_fit")
@pytest.mark.points(1)
def test_fit_reaches_maximum_likelihood(submission):
    for n, d, seed in [(300, 3, 409), (120, 1, 410)]:
        X, y = make_data(n, d, seed)
        w, b, history = submission.fit_logistic(X, y, lr=1.0, epochs=1000)
        w_mle, b_mle = newton(X, y)
        assert_close(w, w_mle, rtol=1e-4, atol=1e-4, what=f"fitted w for X of shape {X.shape}")
        assert_close(b, b_mle, rtol=1e-4, atol=1e-4, what=f"fitted b for X of shape {X.shape}")
        history = np.asarray(history, dtype=float)
        assert history.shape == (1000,), f"history must have one loss per epoch, got {history.shape}"
        assert np.all(np.diff(history) <= 1e-12), "the loss must go down at every epoch"


# --- (e) Challenger ----------------------------------------------------------------------------

@pytest.mark.cell("test_challenger")
@pytest.mark.points(1)
def test_load_challenger(submission):
    temperature, failure = submission.load_challenger("data/challenger.csv")
    assert_array(temperature, shape=(23,), dtype_kind="f", what="temperature")
    assert_array(failure, shape=(23,), dtype_kind="i", what="failure")
    assert_close(temperature, CHALLENGER[:, 0], what="temperature (in the file's row order)")
    assert_close(failure, CHALLENGER[:, 1], what="failure (the 0/1 column, in row order)")


@pytest.mark.cell("test_challenger")
@pytest.mark.points(1)
def test_challenger_coefficients(submission):
    temperature = CHALLENGER[:, 0].astype(float)
    remote_t, remote_f = submission.remote(temperature), submission.remote(CHALLENGER[:, 1])
    intercept, slope = submission.challenger_coefficients(remote_t, remote_f)
    assert_close([intercept, slope], CHALLENGER_MLE, rtol=1e-3, atol=0,
                 what="(intercept, slope) on the Challenger data")
    assert_close(submission.fetch(remote_t), temperature,
                 what="the caller's temperature after challenger_coefficients (must not change: "
                      "standardize into a new array)")
    assert_close(submission.fetch(remote_f), CHALLENGER[:, 1],
                 what="the caller's failure after challenger_coefficients (must not change)")
    intercept, slope = submission.challenger_coefficients(CHALLENGER[:, 0], CHALLENGER[:, 1])
    assert_close([intercept, slope], CHALLENGER_MLE, rtol=1e-3, atol=0,
                 what="(intercept, slope) on the Challenger data with integer temperatures")
    # other units and scale: a predictor around 120 with standard deviation 40
    rng = np.random.default_rng(411)
    x = rng.normal(120.0, 40.0, size=60)
    y = (rng.uniform(size=60) < sigmoid(3.0 - 0.025 * x)).astype(int)
    (slope_mle,), intercept_mle = newton(x[:, None], y)
    intercept, slope = submission.challenger_coefficients(x, y)
    assert_close([intercept, slope], [intercept_mle, slope_mle], rtol=1e-3, atol=0,
                 what="(intercept, slope) for a predictor with mean 120 and sd 40")

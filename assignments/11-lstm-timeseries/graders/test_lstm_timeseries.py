"""Hidden graders for assignment 11-lstm-timeseries (never shown to students)."""

import functools

import numpy as np
import pytest

from autograder.checks import assert_array, assert_close, gradient_check, passes_for_seeds

STEP_SHAPES = [(2, 3, 4), (3, 2, 5)]  # (N, D, H); N > 1 so sums over the batch matter
SEQ_SHAPES = [(2, 5, 3, 4), (3, 4, 2, 3)]  # (N, T, D, H)
GRAD_TOL = 1e-5
FORECAST_SEEDS, FORECAST_NEED, MAX_RMSE = (1, 2, 3), 2, 0.7
TREND, MAX_TREND_BIAS = 1.0, 0.4  # ppm a month added to CO2; ppm
TRAIN_TIMEOUT = 120  # s for one training run through the proxy (CPU, other jobs running)


# --- a reference LSTM (the grader's own, for expected values and finite differences) -------
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def ref_step(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    c = f * c_prev + i * np.tanh(a[:, 3 * H:])
    return o * np.tanh(c), c


def ref_sequence(x, h0, Wx, Wh, b):
    h, c, out = h0, np.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = ref_step(x[:, t, :], h, c, Wx, Wh, b)
        out.append(h)
    return np.stack(out, axis=1)


def step_inputs(seed, N, D, H):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H)),
            0.5 * rng.normal(size=(D, 4 * H)), 0.5 * rng.normal(size=(H, 4 * H)),
            0.5 * rng.normal(size=4 * H)]


def seq_inputs(seed, N, T, D, H):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
            0.5 * rng.normal(size=(D, 4 * H)), 0.5 * rng.normal(size=(H, 4 * H)),
            0.5 * rng.normal(size=4 * H)]


def _replaced(args, k, value):
    args = list(args)
    args[k] = value
    return args


# --- (a) one step forward --------------------------------------------------------------------
@pytest.mark.cell("test_lstm_step_forward")
@pytest.mark.points(1)
def test_step_forward_cell_state(submission):
    for seed, (N, D, H) in enumerate([(1, 1, 1), *STEP_SHAPES, (4, 6, 2)]):
        args = step_inputs(300 + seed, N, D, H)
        out = submission.lstm_step_forward(*args)
        assert isinstance(out, tuple) and len(out) == 3, \
            "lstm_step_forward must return the tuple (h_next, c_next, cache)"
        assert_close(out[1], ref_step(*args)[1], what=f"c_next for N={N}, D={D}, H={H}")


@pytest.mark.cell("test_lstm_step_forward")
@pytest.mark.points(1)
def test_step_forward_hidden_state(submission):
    for seed, (N, D, H) in enumerate([(1, 1, 1), *STEP_SHAPES, (4, 6, 2)]):
        args = step_inputs(400 + seed, N, D, H)
        h_next = submission.lstm_step_forward(*args)[0]
        assert_close(h_next, ref_step(*args)[0], what=f"h_next for N={N}, D={D}, H={H}")


# --- (b) one step backward: finite differences of the true cell, gradients from the student -
STEP_NAMES = ["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"]


def check_step_gradient(submission, args, dh, dc, k, what):
    """Gradient k of the student's backward pass against finite differences of the true cell,
    for the loss sum(h_next * dh) + sum(c_next * dc)."""
    def loss(v):
        h, c = ref_step(*_replaced(args, k, v))
        return np.sum(h * dh) + np.sum(c * dc)

    def grad(v):
        cache = submission.lstm_step_forward(*_replaced(args, k, v))[2]
        return submission.lstm_step_backward(dh, dc, cache)[k]

    gradient_check(loss, grad, args[k], tol=GRAD_TOL, what=what)


def check_step_gradients(submission, which, seed):
    for n, (N, D, H) in enumerate(STEP_SHAPES):
        args = step_inputs(seed + n, N, D, H)
        rng = np.random.default_rng(seed + 50 + n)
        dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
        grads = submission.lstm_step_backward(dh, dc, submission.lstm_step_forward(*args)[2])
        assert isinstance(grads, tuple) and len(grads) == 6, \
            "lstm_step_backward must return (dx, dh_prev, dc_prev, dWx, dWh, db)"
        for k in which:
            check_step_gradient(submission, args, dh, dc, k,
                                what=f"{STEP_NAMES[k]} for N={N}, D={D}, H={H}")


@pytest.mark.cell("test_lstm_step_backward")
@pytest.mark.points(1.25)
def test_step_backward_state_gradients(submission):
    check_step_gradients(submission, [0, 1, 2], seed=500)


@pytest.mark.cell("test_lstm_step_backward")
@pytest.mark.points(1.25)
def test_step_backward_parameter_gradients(submission):
    check_step_gradients(submission, [3, 4, 5], seed=600)


@pytest.mark.cell("test_lstm_step_backward")
@pytest.mark.points(0.5)
def test_step_backward_saturated_gates(submission):
    # class 3: the derivatives at the extremes, not only the values. Pre-activations of several
    # hundred (either sign) saturate sigma and tanh; sigma'(a) written with exp(-a) overflows
    # to inf / inf = NaN for a < -709, where the values and sigma * (1 - sigma) are fine.
    for n, (N, D, H) in enumerate(STEP_SHAPES):
        args = step_inputs(650 + n, N, D, H)
        args[5] = np.random.default_rng(660 + n).choice([-900.0, -750.0, 0.0, 750.0, 900.0],
                                                         size=4 * H) + args[5]
        h_next, c_next = submission.lstm_step_forward(*args)[:2]
        expected_h, expected_c = ref_step(*args)
        assert_close(c_next, expected_c, what=f"c_next with saturated gates (N={N}, D={D}, H={H})")
        assert_close(h_next, expected_h, what=f"h_next with saturated gates (N={N}, D={D}, H={H})")
        rng = np.random.default_rng(670 + n)
        dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
        for k, name in enumerate(STEP_NAMES):
            check_step_gradient(submission, args, dh, dc, k,
                                what=f"{name} with saturated gates (pre-activations of several "
                                     f"hundred; N={N}, D={D}, H={H}): compute the derivatives "
                                     "from the cached gate values, sigma * (1 - sigma)")


# --- (c) sequence ----------------------------------------------------------------------------
@pytest.mark.cell("test_lstm_sequence")
@pytest.mark.points(1)
def test_sequence_forward(submission):
    for seed, (N, T, D, H) in enumerate([(1, 1, 2, 2), *SEQ_SHAPES]):
        args = seq_inputs(700 + seed, N, T, D, H)
        out = submission.lstm_forward(*args)
        assert isinstance(out, tuple) and len(out) == 2, \
            "lstm_forward must return the tuple (h, cache)"
        assert_close(out[0], ref_sequence(*args),
                     what=f"hidden states h for N={N}, T={T}, D={D}, H={H}")
    # class 1: the spec allows an integer x (one-hot codes); h is a float array all the same
    N, T, D, H = SEQ_SHAPES[0]
    args = seq_inputs(750, N, T, D, H)
    args[0] = np.random.default_rng(751).integers(-2, 3, size=(N, T, D))
    h = submission.lstm_forward(*args)[0]
    assert_array(h, shape=(N, T, H), dtype_kind="f", what="h of lstm_forward for an integer x")
    assert_close(h, ref_sequence(args[0].astype(float), *args[1:]),
                 what="hidden states h for an integer x (the same as for x in floats)")


@pytest.mark.cell("test_lstm_sequence")
@pytest.mark.points(1)
def test_sequence_backward(submission):
    names = ["dx", "dh0", "dWx", "dWh", "db"]
    for n, (N, T, D, H) in enumerate(SEQ_SHAPES):
        args = seq_inputs(800 + n, N, T, D, H)
        dh = np.random.default_rng(850 + n).normal(size=(N, T, H))
        remote_dh = submission.remote(dh)  # the caller's array, read back below
        grads = submission.lstm_backward(remote_dh, submission.lstm_forward(*args)[1])
        assert isinstance(grads, tuple) and len(grads) == 5, \
            "lstm_backward must return (dx, dh0, dWx, dWh, db)"
        assert_close(submission.fetch(remote_dh), dh,
                     what="dh after lstm_backward (must not change: add the gradient from step "
                          "t + 1 into a new array, not into the caller's dh)")
        for k, name in enumerate(names):
            check_sequence_gradient(submission, args, dh, k,
                                    what=f"{name} over a sequence with N={N}, T={T}, D={D}, H={H}")


def check_sequence_gradient(submission, args, dh, k, what):
    """Gradient k of the student's lstm_backward against finite differences of the true
    sequence, for the loss sum(h * dh) over all steps."""
    def loss(v):
        return np.sum(ref_sequence(*_replaced(args, k, v)) * dh)

    def grad(v):
        cache = submission.lstm_forward(*_replaced(args, k, v))[1]
        return submission.lstm_backward(dh, cache)[k]

    gradient_check(loss, grad, args[k], tol=GRAD_TOL, what=what)


# --- (d) data --------------------------------------------------------------------------------
@functools.cache
def monthly_co2():
    from statsmodels.datasets import co2  # lighter than statsmodels.api

    weekly = co2.load_pandas().data["co2"]
    return weekly.interpolate().resample("MS").mean().to_numpy(dtype=float)


@pytest.mark.cell("test_co2_data")
@pytest.mark.points(1)
def test_make_windows(submission):
    rng = np.random.default_rng(900)
    for n, window in [(10, 1), (20, 7), (50, 12)]:
        series = rng.normal(size=n)
        out = submission.make_windows(series, window)
        assert isinstance(out, tuple) and len(out) == 2, "make_windows must return (X, y)"
        X, y = out
        expected = np.stack([series[j:j + window] for j in range(n - window)])[:, :, None]
        assert_close(X, expected, what=f"X of make_windows(series of length {n}, {window})")
        assert_close(y, series[window:], what=f"y of make_windows(series of length {n}, {window})")
    series = rng.integers(0, 400, size=15)  # the spec allows integers; X and y are floats
    X, y = submission.make_windows(series, 4)
    assert_array(X, shape=(11, 4, 1), dtype_kind="f", what="X of make_windows(integer series, 4)")
    assert_array(y, shape=(11,), dtype_kind="f", what="y of make_windows(integer series, 4)")
    assert_close(y, series[4:], what="y of make_windows(integer series, 4)")


# --- (e) Keras forecaster --------------------------------------------------------------------
@pytest.mark.cell("test_forecaster")
@pytest.mark.points(1)
def test_forecast_uses_only_the_past_and_training_statistics(submission):
    # Statistics of the whole series (or a peek at the value being predicted) barely move the
    # RMSE, so the property is tested directly: with the same seed, the forecast for test[k]
    # must not change when the test values after test[k - 1] change. Small and short, other
    # hyperparameters than the accuracy test's. The series rises by TREND ppm a month more than
    # CO2 does, so a bias in converting differences back (the mean left out or added twice,
    # "same as last month") dominates here, where on CO2 it hides under the RMSE threshold.
    series = monthly_co2()[100:290] + TREND * np.arange(190)
    train, test = series[:150], series[150:]
    changed = test.copy()
    changed[20:] += np.linspace(3.0, 12.0, len(test) - 20)  # a jump, then a steeper trend
    forecasts = []
    for values in (test, changed):
        submission.seed(FORECAST_SEEDS[0])
        pred = submission.forecast_one_step(train, values, window=6, units=4, epochs=2,
                                            timeout=TRAIN_TIMEOUT)
        assert_array(pred, shape=test.shape,
                     what="forecast_one_step(train, test, window=6) predictions")
        forecasts.append(np.asarray(pred, dtype=float))
    assert_close(forecasts[1][:21], forecasts[0][:21], rtol=1e-6, atol=1e-4,
                 what="forecast_one_step: forecasts for test[0..20] when only test[20:] changed "
                      "(same seed; a forecast may use only the true values before it and the "
                      "statistics of train)")
    bias = float(np.mean(forecasts[0] - test))
    assert abs(bias) < MAX_TREND_BIAS, (
        f"forecast_one_step on a series rising about {TREND + 0.1:.1f} ppm a month: the "
        f"forecasts are off by {bias:+.2f} ppm on average (at most {MAX_TREND_BIAS} allowed); "
        "the forecast is the previous true value plus the predicted difference converted back "
        "to ppm with z * std + mean of the training differences")


@pytest.mark.cell("test_forecaster")
@pytest.mark.points(1)
def test_forecast_accuracy(submission):
    series = monthly_co2()
    train, test = series[:420], series[420:480]  # not the notebook's split
    rmses = []

    def trial(seed):
        submission.seed(seed)
        pred = submission.forecast_one_step(train, test, window=12, units=16, epochs=15,
                                            timeout=TRAIN_TIMEOUT)
        assert_array(pred, shape=test.shape, what="forecast_one_step(train, test) predictions")
        assert np.all(np.isfinite(pred)), "forecast_one_step returned NaN or infinity"
        rmses.append(float(np.sqrt(np.mean((pred - test) ** 2))))
        return rmses[-1] < MAX_RMSE

    try:
        passes_for_seeds(trial, FORECAST_SEEDS, need=FORECAST_NEED,
                         what=f"one-step forecast with test RMSE below {MAX_RMSE} ppm")
    except AssertionError as exc:
        shown = ", ".join(f"{r:.3f}" for r in rmses)
        raise AssertionError(f"{exc} (test RMSE per seed: {shown} ppm)") from None

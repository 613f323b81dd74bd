"""Hidden graders for assignment 08-regularization (never shown to students).

Dropout is random, so its forward pass is graded on properties that any correct mask has
(fraction dropped, scale of the kept units, the seed makes it reproducible, identity at test
time) with large arrays and tolerances of several standard deviations; the backward passes
are gradient-checked through the proxy; batch norm and early stopping are compared with the
reference below. The training loop of (f) is replayed step by step with the notebook's network
and Adam, and must make a network that overfits better on validation data.
"""

import itertools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from autograder.checks import assert_close, gradient_check

# --- references ----------------------------------------------------------------------------------


def ref_batchnorm(x, gamma, beta, running_mean, running_var, train=True, momentum=0.9,
                  eps=1e-5):
    if train:
        mu, var = x.mean(axis=0), x.var(axis=0)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, running_mean, running_var


def ref_early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch


def forward_out(result, name):
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a pair (out, cache)"
    return np.asarray(result[0], dtype=float)


# --- (a) dropout forward -------------------------------------------------------------------------


@pytest.mark.cell("test_dropout_forward")
@pytest.mark.points(0.5)
def test_dropout_drops_a_fraction_p_and_scales(submission):
    rng = np.random.default_rng(101)
    x = rng.uniform(0.5, 2.0, size=(250, 400))  # no zeros: a zero in out means dropped
    for p, seed in [(0.2, 11), (0.5, 12), (0.75, 13)]:
        out = forward_out(submission.dropout_forward(x, p, True, seed), "dropout_forward")
        assert out.shape == x.shape, f"dropout_forward: expected shape {x.shape}, got {out.shape}"
        dropped = float(np.mean(out == 0))
        # 100 000 units: the standard deviation of the fraction is below 0.0016
        assert abs(dropped - p) < 0.01, (f"dropout_forward with p={p} dropped a fraction "
                                         f"{dropped:.3f} of the units; p is the probability "
                                         "of dropping a unit")
        kept = out != 0
        assert_close(out[kept], x[kept] / (1 - p), what=f"dropout_forward with p={p}: kept units "
                     "(they must be scaled by 1 / (1 - p))")
    for shape in [(7,), (3, 4, 5)]:  # any shape
        x = rng.normal(size=shape)
        out = forward_out(submission.dropout_forward(x, 0.4, True, 14), "dropout_forward")
        assert out.shape == shape, f"dropout_forward: expected shape {shape}, got {out.shape}"
    counts = rng.integers(1, 9, size=(60, 50))  # integer input, which the notebook allows
    out = forward_out(submission.dropout_forward(counts, 0.75, True, 15), "dropout_forward")
    kept = out != 0
    assert 0 < kept.mean() < 0.5, "dropout_forward with p=0.75 on integer x dropped " \
        f"a fraction {1 - kept.mean():.2f}"
    assert_close(out[kept], counts[kept] / 0.25, what="dropout_forward with p=0.75 on an "
                 "integer x: kept units (x / (1 - p) is a float: the output must not be rounded "
                 "to x's integer dtype)")


@pytest.mark.cell("test_dropout_forward")
@pytest.mark.points(0.25)
def test_dropout_seed_gives_reproducible_masks(submission):
    x = np.random.default_rng(102).uniform(0.5, 2.0, size=(40, 50))
    first = forward_out(submission.dropout_forward(x, 0.5, True, 21), "dropout_forward")
    again = forward_out(submission.dropout_forward(x, 0.5, True, 21), "dropout_forward")
    other = forward_out(submission.dropout_forward(x, 0.5, True, 22), "dropout_forward")
    assert np.array_equal(first, again), \
        "dropout_forward: the same seed must give the same mask (use np.random.default_rng(seed))"
    assert not np.array_equal(first, other), \
        "dropout_forward: different seeds gave the same mask"
    assert np.any(first == 0) and np.any(first != 0), "dropout_forward with p=0.5 dropped " \
        "no unit or every unit"


@pytest.mark.cell("test_dropout_forward")
@pytest.mark.points(0.25)
def test_dropout_is_identity_at_test_time(submission):
    x = np.random.default_rng(103).normal(size=(30, 20))
    # the points come with a training mode that drops: the identity everywhere is no dropout
    trained = forward_out(submission.dropout_forward(x, 0.5, True, 30), "dropout_forward")
    assert 0.3 < np.mean(trained == 0) < 0.7, "dropout_forward(x, p=0.5, train=True) dropped " \
        f"a fraction {np.mean(trained == 0):.2f} of the units: the test-time identity earns its " \
        "points together with a training mode that drops"
    for p in [0.1, 0.5, 0.9]:
        out = forward_out(submission.dropout_forward(x, p, False, 31), "dropout_forward")
        assert_close(out, x, what=f"dropout_forward(x, p={p}, train=False) (test time: the "
                     "identity, no mask and no scaling)")
    out = forward_out(submission.dropout_forward(x, 0.0, True, 32), "dropout_forward")
    assert_close(out, x, what="dropout_forward with p=0 in training")


# --- (b) dropout backward ------------------------------------------------------------------------


@pytest.mark.cell("test_dropout_backward")
@pytest.mark.points(1)
def test_dropout_backward_gradient_check(submission):
    rng = np.random.default_rng(104)
    for p, seed, shape in [(0.3, 41, (4, 5)), (0.6, 42, (2, 3, 2))]:
        # exact zeros, as after a ReLU: a kept zero still passes its gradient (scaled), so the
        # mask cannot be read back from out (out / x, out != 0)
        x, dout = rng.normal(size=shape) * (rng.random(shape) < 0.6), rng.normal(size=shape)
        assert np.any(x == 0)
        out, cache = submission.dropout_forward(x, p, True, seed)
        # checked against a forward pass that drops: an identity forward and an identity
        # backward agree with each other, and are no dropout
        assert np.any((np.asarray(out) == 0) & (x != 0)), (
            f"dropout_forward(x, p={p}, train=True) dropped no unit: dropout_backward is checked "
            "against a forward pass that drops")

        def loss(v, p=p, seed=seed, dout=dout):
            return np.sum(forward_out(submission.dropout_forward(v, p, True, seed),
                                      "dropout_forward") * dout)

        gradient_check(loss, lambda _v, dout=dout, cache=cache:
                       submission.dropout_backward(dout, cache), x, tol=1e-6,
                       what=f"dropout_backward (train, p={p}) against finite differences of "
                            "dropout_forward with the same seed")
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    _, cache = submission.dropout_forward(x, 0.5, False, 43)
    assert_close(submission.dropout_backward(dout, cache), dout,
                 what="dropout_backward for a cache from test mode (the identity)")


# --- (c) batch norm forward ----------------------------------------------------------------------


def bn_forward(submission, *args, **kwargs):
    result = submission.batchnorm_forward(*args, **kwargs)
    assert isinstance(result, (tuple, list)) and len(result) == 4, \
        "batchnorm_forward must return (out, cache, running_mean, running_var)"
    out, _, running_mean, running_var = result
    return out, running_mean, running_var


@pytest.mark.cell("test_batchnorm_forward")
@pytest.mark.points(0.75)
def test_batchnorm_train_output(submission):
    rng = np.random.default_rng(201)
    for n, d in [(16, 5), (3, 2), (40, 1)]:
        x = rng.normal(loc=rng.normal(size=d) * 4, scale=rng.uniform(0.1, 5, size=d),
                       size=(n, d))
        gamma, beta = rng.normal(size=d), rng.normal(size=d)
        rm, rv = rng.normal(size=d), rng.uniform(0.5, 2, size=d)
        out, _, _ = bn_forward(submission, x, gamma, beta, rm, rv, True)
        expected, _, _ = ref_batchnorm(x, gamma, beta, rm, rv, True)
        assert_close(out, expected, rtol=1e-5, atol=1e-7,
                     what=f"batchnorm_forward in train mode, x of shape {(n, d)}")
    pixels = rng.integers(0, 256, size=(12, 3))  # integer input, which the notebook allows
    gamma, beta, rm, rv = rng.normal(size=3), rng.normal(size=3), np.zeros(3), np.ones(3)
    out, _, _ = bn_forward(submission, pixels, gamma, beta, rm, rv, True)
    expected, _, _ = ref_batchnorm(pixels.astype(float), gamma, beta, rm, rv, True)
    assert_close(out, expected, rtol=1e-5, atol=1e-7,
                 what="batchnorm_forward in train mode on integer x (the mean and the "
                      "normalized values are floats: nothing may be rounded to x's dtype)")


@pytest.mark.cell("test_batchnorm_forward")
@pytest.mark.points(0.5)
def test_batchnorm_running_averages(submission):
    rng = np.random.default_rng(202)
    d = 4
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    for momentum in [0.9, 0.6]:
        rm, rv = np.zeros(d), np.ones(d)
        ref_rm, ref_rv = rm, rv
        for step in range(1, 6):
            x = rng.normal(loc=3.0, scale=2.0, size=(10, d))
            kwargs = {} if momentum == 0.9 else {"momentum": momentum}
            _, rm, rv = bn_forward(submission, x, gamma, beta, rm, rv, True, **kwargs)
            _, ref_rm, ref_rv = ref_batchnorm(x, gamma, beta, ref_rm, ref_rv, True, momentum)
            what = f"batchnorm_forward (momentum {momentum}): running_%s after batch {step}"
            assert_close(rm, ref_rm, what=what % "mean")
            assert_close(rv, ref_rv, what=what % "var")


@pytest.mark.cell("test_batchnorm_forward")
@pytest.mark.points(0.5)
def test_batchnorm_test_mode_uses_running_averages(submission):
    rng = np.random.default_rng(203)
    d = 3
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    rm, rv = rng.normal(size=d), rng.uniform(0.5, 3, size=d)
    for n in [1, 2, 8]:  # one example at test time: the batch statistics are useless
        x = rng.normal(loc=2.0, scale=3.0, size=(n, d))
        out, rm_after, rv_after = bn_forward(submission, x, gamma, beta, rm, rv, False)
        expected, _, _ = ref_batchnorm(x, gamma, beta, rm, rv, False)
        assert_close(out, expected, rtol=1e-5, atol=1e-7,
                     what=f"batchnorm_forward in test mode on {n} example(s) (normalize with "
                          "running_mean and running_var)")
        assert_close(rm_after, rm, what="running_mean after a test-mode call (must not change)")
        assert_close(rv_after, rv, what="running_var after a test-mode call (must not change)")


@pytest.mark.cell("test_batchnorm_forward")
@pytest.mark.points(0.25)
def test_batchnorm_leaves_the_callers_arrays_unchanged(submission):
    # "Return the running averages instead of changing the arrays in place": the arrays given
    # are the caller's own, in the notebook's process, and are read back after the call
    rng = np.random.default_rng(204)
    d = 3
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    rm, rv = rng.normal(size=d), rng.uniform(0.5, 2, size=d)
    for train in (True, False):
        x = rng.normal(loc=1.0, scale=2.0, size=(6, d))
        arrays = {"x": x, "running_mean": rm, "running_var": rv}
        placed = {name: submission.remote(value) for name, value in arrays.items()}
        _, new_rm, new_rv = bn_forward(submission, placed["x"], gamma, beta,
                                       placed["running_mean"], placed["running_var"], train)
        _, ref_rm, ref_rv = ref_batchnorm(x, gamma, beta, rm, rv, train)
        mode = "train" if train else "test"
        assert_close(new_rm, ref_rm, what=f"running_mean returned in {mode} mode")
        assert_close(new_rv, ref_rv, what=f"running_var returned in {mode} mode")
        for name, value in arrays.items():
            assert_close(submission.fetch(placed[name]), value, rtol=0, atol=0,
                         what=f"the caller's {name} after batchnorm_forward in {mode} mode "
                              "(return new running averages; change no array in place)")


# --- (d) batch norm backward ---------------------------------------------------------------------
# The cache comes from the student's forward pass; the loss whose gradient is checked is the
# reference batch norm, so the backward pass must be the gradient of batch normalization.


def bn_case(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=1.0, scale=rng.uniform(0.5, 3, size=d), size=(n, d))
    return x, rng.normal(size=d), rng.normal(size=d), rng.normal(size=(n, d))


def bn_gradients(submission, x, gamma, beta, dout):
    result = submission.batchnorm_forward(x, gamma, beta, np.zeros(x.shape[1]),
                                          np.ones(x.shape[1]), True)
    grads = submission.batchnorm_backward(dout, result[1])
    assert isinstance(grads, (tuple, list)) and len(grads) == 3, \
        "batchnorm_backward must return (dx, dgamma, dbeta)"
    return grads


def bn_loss(x, gamma, beta, dout):
    d = x.shape[1]
    return np.sum(ref_batchnorm(x, gamma, beta, np.zeros(d), np.ones(d))[0] * dout)


@pytest.mark.cell("test_batchnorm_backward")
@pytest.mark.points(1)
def test_batchnorm_backward_dx(submission):
    for seed, n, d in [(301, 5, 3), (302, 4, 4), (303, 8, 2)]:
        x, gamma, beta, dout = bn_case(seed, n, d)
        gradient_check(lambda v, gamma=gamma, beta=beta, dout=dout: bn_loss(v, gamma, beta, dout),
                       lambda v, gamma=gamma, beta=beta, dout=dout:
                       bn_gradients(submission, v, gamma, beta, dout)[0],
                       x, tol=1e-5, what=f"batchnorm_backward: dx for x of shape {(n, d)}")


@pytest.mark.cell("test_batchnorm_backward")
@pytest.mark.points(1)
def test_batchnorm_backward_dgamma_dbeta(submission):
    for seed, n, d in [(311, 6, 3), (312, 3, 5)]:
        x, gamma, beta, dout = bn_case(seed, n, d)
        _, dgamma, dbeta = bn_gradients(submission, x, gamma, beta, dout)
        gradient_check(lambda g, x=x, beta=beta, dout=dout: bn_loss(x, g, beta, dout),
                       lambda _g, dgamma=dgamma: dgamma, gamma, tol=1e-6,
                       what=f"batchnorm_backward: dgamma for x of shape {(n, d)}")
        gradient_check(lambda b, x=x, gamma=gamma, dout=dout: bn_loss(x, gamma, b, dout),
                       lambda _b, dbeta=dbeta: dbeta, beta, tol=1e-6,
                       what=f"batchnorm_backward: dbeta for x of shape {(n, d)}")


# --- (e) early stopping --------------------------------------------------------------------------


def check_early_stopping(submission, losses, patience, min_delta=0.0):
    losses = [float(v) for v in losses]
    result = submission.early_stopping(losses, patience, min_delta)
    expected = ref_early_stopping(losses, patience, min_delta)
    shown = ", ".join(f"{v:.3g}" for v in losses)
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        "early_stopping must return a pair (stop_epoch, best_epoch)"
    assert tuple(int(v) for v in result) == expected, (
        f"early_stopping([{shown}], patience={patience}, min_delta={min_delta}) returned "
        f"{tuple(result)}, expected (stop_epoch, best_epoch) = {expected}")


@pytest.mark.cell("test_early_stopping")
@pytest.mark.points(1)
def test_early_stopping_noisy_curves(submission):
    rng = np.random.default_rng(401)
    for trial in range(12):
        epochs = np.arange(int(rng.integers(15, 40)))
        curve = 0.2 + np.exp(-epochs / rng.uniform(3, 10)) + 0.01 * epochs \
            + rng.normal(scale=0.03, size=epochs.size)
        check_early_stopping(submission, np.round(curve, 3), patience=1 + trial % 5)


@pytest.mark.cell("test_early_stopping")
@pytest.mark.points(0.5)
def test_early_stopping_min_delta_and_ties(submission):
    # no loss lies exactly at best - min_delta, where float rounding would decide
    check_early_stopping(submission, [3.0, 2.0, 2.0, 2.0, 1.0], patience=2)  # a tie is no gain
    check_early_stopping(submission, [3.0, 2.0, 2.0, 1.0, 0.5], patience=2)
    check_early_stopping(submission, [1.0, 0.96, 0.93, 0.9, 0.85, 0.84, 0.83, 0.82], 2, 0.05)
    check_early_stopping(submission, [1.0, 0.92, 0.85, 0.84, 0.7, 0.69, 0.68, 0.5], 3, 0.1)
    check_early_stopping(submission, [2.0, 1.98, 1.5, 1.49, 1.2, 1.19, 1.18], 2, 0.1)
    # losses far from 1, where an absolute min_delta and a relative one (best * (1 - d)) differ
    check_early_stopping(submission, [10.0, 9.6, 9.3, 9.0, 8.95, 8.9, 8.85], 2, 0.5)
    check_early_stopping(submission, [0.05, 0.03, 0.021, 0.015, 0.014], 2, 0.01)


@pytest.mark.cell("test_early_stopping")
@pytest.mark.points(0.5)
def test_early_stopping_edge_cases(submission):
    check_early_stopping(submission, [0.5], patience=1)
    check_early_stopping(submission, [5.0, 4.0, 3.0, 2.0, 1.5, 1.2], patience=1)  # never stops
    check_early_stopping(submission, [1.0, 2.0, 3.0, 4.0], patience=10)  # patience too long
    check_early_stopping(submission, [1.0, 2.0, 3.0, 4.0, 5.0], patience=4)
    check_early_stopping(submission, [4.0, 3.0, 3.5, 2.0, 2.5, 2.6, 1.0], patience=3)


# --- (f) training with dropout and early stopping ------------------------------------------------
# The loop is replayed here with the notebook's network and Adam written out again (the given cell
# is fixed), so fit is graded on its loop alone; with dropout, the training losses and gradients
# come from the notebook's mlp_loss, which runs the student's dropout with the seed of each step.

PARAM_KEYS = ["W1", "W2", "b1", "b2"]
INDEX_MEANS = {"W1": "(input, hidden unit)", "b1": "(hidden unit)", "W2": "(hidden unit, class)",
               "b2": "(class)"}


def load_digits():
    """scikit-learn's bundled digits, read from its data file (importing scikit-learn costs a
    second of CPU per graded submission), pixels scaled to [0, 1] as in the notebook."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.exists():
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1] / 16.0, data[:, -1].astype(int)
    from sklearn.datasets import load_digits as sklearn_digits  # the file moved: the slow way

    digits = sklearn_digits()
    return digits.data / 16.0, digits.target


def digit_split(seed, n_train=100, n_val=300):
    """Another split than the notebook's: few training examples, so the network overfits."""
    X, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(y))
    train, val = order[:n_train], order[n_train:n_train + n_val]
    return X[train], y[train], X[val], y[val]


def ref_init_mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{layer}"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def ref_mlp_loss(params, X, y):
    """The notebook's mlp_loss without dropout: (loss, grads)."""
    n = len(X)
    Z1 = X @ params["W1"] + params["b1"]
    H = np.maximum(Z1, 0.0)
    logits = H @ params["W2"] + params["b2"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1.0
    dlogits /= n
    dZ1 = (dlogits @ params["W2"].T) * (Z1 > 0)
    return float(-np.mean(log_probs[np.arange(n), y])), {
        "W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": H.T @ dlogits, "b2": dlogits.sum(axis=0)}


def ref_adam(w, dw, config):
    config = dict(config)
    b1, b2, eps = 0.9, 0.999, 1e-8
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), \
        config


def ref_fit(X_train, y_train, X_val, y_val, hidden, steps, lr, patience, seed, train_loss=None):
    """The loop of the notebook; train_loss(params, i) gives (loss, grads) of step i (default:
    no dropout). Returns (returned params, train losses, val losses, best step)."""
    # small matrices: several BLAS threads are slower than one, by far on a busy machine
    with threadpool_limits(1):
        return _ref_fit(X_train, y_train, X_val, y_val, hidden, steps, lr, patience, seed,
                        train_loss)


def _ref_fit(X_train, y_train, X_val, y_val, hidden, steps, lr, patience, seed, train_loss):
    train_loss = train_loss or (lambda params, _i: ref_mlp_loss(params, X_train, y_train))
    params = ref_init_mlp([X_train.shape[1], hidden, 10], seed)
    configs = {key: {"learning_rate": lr} for key in params}
    losses, val_losses, best, best_params, best_step, wait = [], [], np.inf, params, 0, 0
    for i in range(steps):
        loss, grads = train_loss(params, i)
        val_loss = ref_mlp_loss(params, X_val, y_val)[0]
        losses.append(loss)
        val_losses.append(val_loss)
        if patience is not None:
            if val_loss < best:
                best, best_params, best_step, wait = val_loss, dict(params), i, 0
            else:
                wait += 1
                if wait >= patience:
                    break
        for key in params:
            params[key], configs[key] = ref_adam(params[key], grads[key], configs[key])
    return (best_params if patience is not None else params), losses, val_losses, best_step


def student_fit(submission, *args, **kwargs):
    result = submission.fit(*args, **kwargs)
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        "fit must return a pair (params, history)"
    params, history = result
    assert isinstance(history, dict) and {"train", "val"} <= set(history), \
        'fit must return a history dict with the lists "train" and "val"'
    assert isinstance(params, dict) and sorted(params) == PARAM_KEYS, \
        f"fit must return the parameters as a dict with the keys {PARAM_KEYS}"
    train, val = (np.asarray(history[key], dtype=float).ravel() for key in ("train", "val"))
    assert len(train) == len(val), (f'history["train"] has {len(train)} losses, history["val"] '
                                    f"{len(val)}: one of each per step")
    return {key: np.asarray(value, dtype=float) for key, value in params.items()}, train, val


def compare_fit(submission, case, expected, what):
    params, train, val = student_fit(submission, *case["data"], **case["kwargs"])
    exp_params, exp_train, exp_val, _best = expected
    assert len(val) == len(exp_val), (
        f"{what}: {len(val)} losses recorded, expected {len(exp_val)} (one per step, measured "
        "before its update; with early stopping, up to the step after which training stops)")
    assert_close(train, exp_train, rtol=1e-6, atol=1e-9,
                 what=f'{what}: history["train"] (index: the step; the loss before its update)')
    assert_close(val, exp_val, rtol=1e-6, atol=1e-9,
                 what=f'{what}: history["val"] (index: the step; the loss before its update)')
    for key in PARAM_KEYS:
        assert_close(params[key], exp_params[key], rtol=1e-5, atol=1e-8,
                     what=f"{what}: the returned {key} {INDEX_MEANS[key]}")


def small_case(seed, **kwargs):
    rng = np.random.default_rng(seed)
    X, X_val = rng.normal(size=(24, 7)), rng.normal(size=(15, 7))
    data = (X, rng.integers(0, 10, size=24), X_val, rng.integers(0, 10, size=15))
    return {"data": data, "kwargs": {"hidden": 6, "steps": 7, "lr": 0.05, "seed": seed, **kwargs}}


def expected_of(case, train_loss=None):
    kw = case["kwargs"]
    return ref_fit(*case["data"], kw["hidden"], kw["steps"], kw["lr"], kw.get("patience"),
                   kw["seed"], train_loss)


@pytest.mark.cell("test_fit")
@pytest.mark.points(0.5)
def test_fit_records_the_losses_before_each_update(submission):
    for seed, lr in [(501, 0.05), (502, 0.0)]:
        case = small_case(seed, lr=lr)
        compare_fit(submission, case, expected_of(case),
                    f"fit without dropout or early stopping (7 steps, lr {lr}, seed {seed})")


@pytest.mark.cell("test_fit")
@pytest.mark.points(0.25)
def test_fit_dropout_masks_follow_the_seed(submission):
    # the training losses and gradients of the notebook's mlp_loss with the student's dropout,
    # step i with the mask of seed + i
    case = small_case(511, drop_p=0.4)
    X, y = case["data"][:2]

    def train_loss(params, i):
        loss, grads = submission.mlp_loss(params, X, y, 0.4, True, 511 + i)
        return float(loss), {key: np.asarray(value, dtype=float) for key, value in grads.items()}

    compare_fit(submission, case, expected_of(case, train_loss),
                "fit with drop_p 0.4, seed 511 (step i uses the dropout mask of seed + i; the "
                "validation loss is measured without dropout)")


@pytest.mark.cell("test_fit")
@pytest.mark.points(0.75)
def test_fit_early_stopping_restores_the_best_step(submission):
    data = digit_split(521)
    for patience, seed in [(3, 2), (8, 5)]:
        case = {"data": data, "kwargs": {"hidden": 32, "steps": 150, "lr": 0.02, "seed": seed,
                                         "patience": patience}}
        expected = expected_of(case)
        assert len(expected[2]) < 150, "grader: the case must stop early"
        compare_fit(submission, case, expected,
                    f"fit with early stopping (patience {patience}, seed {seed}; the lowest "
                    f"validation loss is at step {expected[3]})")
    # with dropout: the stop and the restored step follow the rule of (e) on the recorded losses
    params, _train, val = student_fit(submission, *data, hidden=32, steps=150, lr=0.02,
                                      drop_p=0.5, patience=6, seed=7)
    stop, best = ref_early_stopping(list(val), 6)
    assert stop == len(val) - 1 and len(val) < 150, (
        f"fit with drop_p 0.5 and patience 6: the lowest validation loss is at step {best}, so "
        f"training stops after step {best + 6}; {len(val)} losses were recorded")
    restored = ref_mlp_loss(params, data[2], data[3])[0]
    assert_close(restored, val[best], rtol=1e-6,
                 what=f"fit with drop_p 0.5 and patience 6: validation loss of the returned "
                      f"parameters (those of step {best}, the best)")


@pytest.mark.cell("test_fit")
@pytest.mark.points(0.5)
def test_fit_regularization_helps_a_network_that_overfits(submission):
    X_train, y_train, X_val, y_val = digit_split(531)
    losses = {}
    for name, kwargs in [("without regularization", {}),
                         ("with dropout 0.5 and early stopping (patience 10)",
                          {"drop_p": 0.5, "patience": 10})]:
        params, _train, _val = student_fit(submission, X_train, y_train, X_val, y_val, seed=3,
                                           **kwargs)
        losses[name] = ref_mlp_loss(params, X_val, y_val)[0]
    (plain, plain_loss), (regularized, reg_loss) = losses.items()
    # the reference: 0.41 without, 0.32 with (a network of 128 units on 100 digits overfits)
    assert reg_loss < plain_loss - 0.02, (
        f"fit (default hyperparameters, seed 3) on another split of the digits, 100 to train on: "
        f"validation loss {plain_loss:.3f} {plain}, {reg_loss:.3f} {regularized}; "
        "regularization should help a network that overfits")

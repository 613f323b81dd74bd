"""Hidden graders for assignment 06-mlp (never shown to students).

Integer inputs, which the spec allows (Z, X, x), are graded too; arrays a function must leave
alone are passed with ``submission.remote`` (a plain argument reaches the notebook as a copy) and
read back, a check that earns points only together with a right result.
"""

import importlib.util
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import (
    assert_array,
    assert_close,
    gradient_check,
    passes_for_seeds,
    relative_error,
)

ACCURACY = 0.92  # the reference: 0.957 on average over 40 seeds, 0.933 at worst


def load_digits():
    """scikit-learn's bundled digits, read from its data file: importing scikit-learn costs
    seconds of CPU per graded submission. Pixels scaled to [0, 1] as in the notebook."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.exists():
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1] / 16.0, data[:, -1].astype(int)
    from sklearn.datasets import load_digits as sklearn_digits  # the file moved: the slow way

    digits = sklearn_digits()
    return digits.data / 16.0, digits.target


def relu(Z):
    return np.maximum(Z, 0.0)


def sigmoid(Z):
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e))


ACT = {"relu": relu, "sigmoid": sigmoid}


def forward(params, X, activation):
    n_layers = len(params) // 2
    A = X
    for layer in range(1, n_layers + 1):
        Z = A @ params[f"W{layer}"] + params[f"b{layer}"]
        A = ACT[activation](Z) if layer < n_layers else Z
    return A


def cross_entropy(Z, y):
    m = Z.max(axis=1)
    return float(np.mean(m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - Z[np.arange(len(y)), y]))


def random_params(sizes, seed):
    rng = np.random.default_rng(seed)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(pairwise(sizes), start=1):
        params[f"W{layer}"] = rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)
        params[f"b{layer}"] = rng.normal(size=fan_out) * 0.5
    return params


# --- (a) activations ---------------------------------------------------------------------------

@pytest.mark.cell("test_activations")
@pytest.mark.points(1)
def test_activations(submission):
    rng = np.random.default_rng(601)
    for shape in [(9,), (3, 4)]:
        Z = rng.normal(size=shape) * 3.0
        assert_close(submission.relu(Z), relu(Z), what=f"relu of an array of shape {shape}")
        assert_close(submission.relu_grad(Z), (Z > 0).astype(float),
                     what=f"relu_grad of an array of shape {shape}")
        assert_close(submission.sigmoid(Z), sigmoid(Z), what=f"sigmoid of an array of shape {shape}")
        h = 1e-6  # the derivative, against centered differences of the sigmoid
        assert_close(submission.sigmoid_grad(Z), (sigmoid(Z + h) - sigmoid(Z - h)) / (2 * h),
                     rtol=1e-6, atol=1e-9, what=f"sigmoid_grad of an array of shape {shape}")
    Z = np.array([[-2.0, 0.0, 3.0], [0.0, -0.0, 1e-300]])  # exactly 0: the spec takes 0 there
    assert_close(submission.relu_grad(Z), [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
                 what=f"relu_grad of {Z.tolist()} (0 at Z = 0)")
    assert_array(submission.relu_grad(Z), dtype_kind="f", what="relu_grad (a float array)")
    extreme = np.array([-1000.0, -50.0, 50.0, 1000.0])
    assert_close(submission.sigmoid(extreme), sigmoid(extreme), atol=1e-12,
                 what=f"sigmoid of {extreme.tolist()}")
    Z = np.array([[-3, 0, 2], [1, -1, 5]])  # integers: float results all the same
    s = sigmoid(Z.astype(float))
    expected = {"relu": relu(Z.astype(float)), "relu_grad": (Z > 0).astype(float),
                "sigmoid": s, "sigmoid_grad": s * (1 - s)}
    for name, value in expected.items():
        assert_close(getattr(submission, name)(Z), value, what=f"{name} of the integers {Z.tolist()}")
    Z = rng.normal(size=(3, 4)) * 3.0  # the caller's Z (forward's cache) must not change
    for name in expected:
        remote_Z = submission.remote(Z)
        value = getattr(submission, name)(remote_Z)
        s = sigmoid(Z)
        assert_close(value, {"relu": relu(Z), "relu_grad": (Z > 0).astype(float), "sigmoid": s,
                             "sigmoid_grad": s * (1 - s)}[name], what=f"{name} of a (3, 4) array")
        assert_close(submission.fetch(remote_Z), Z,
                     what=f"the caller's Z after {name}(Z) (must not change: return a new array)")


# --- (b) initialization and forward ------------------------------------------------------------

@pytest.mark.cell("test_forward")
@pytest.mark.points(1)
def test_init_params(submission):
    sizes = [200, 300, 100, 10]
    params = submission.init_params(sizes, seed=3)
    expected = {f"{name}{layer}" for layer in range(1, 4) for name in "Wb"}
    assert isinstance(params, dict) and set(params) == expected, (
        f"init_params({sizes}) must return a dict with keys {sorted(expected)}, got "
        f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")
    for layer, (fan_in, fan_out) in enumerate(pairwise(sizes), start=1):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        assert_array(W, shape=(fan_in, fan_out), dtype_kind="f", what=f"W{layer}")
        assert_close(b, np.zeros(fan_out), what=f"b{layer} (biases start at zero)")
        target = np.sqrt(2.0 / fan_in)
        assert abs(W.std() / target - 1) < 0.1 and abs(W.mean()) < 0.1 * target, (
            f"W{layer} (fan_in {fan_in}) has mean {W.mean():.4f} and standard deviation "
            f"{W.std():.4f}; He initialization draws from N(0, 2 / fan_in), sd {target:.4f}")
    again = submission.init_params(sizes, seed=3)
    other = submission.init_params(sizes, seed=4)
    assert np.array_equal(again["W1"], params["W1"]), "the same seed must give the same weights"
    assert not np.allclose(other["W1"], params["W1"]), "another seed must give other weights"


@pytest.mark.cell("test_forward")
@pytest.mark.points(1)
def test_forward_logits(submission):
    rng = np.random.default_rng(602)
    for sizes, activation in [([6, 3], "relu"), ([5, 8, 4], "relu"), ([5, 8, 7, 3], "relu"),
                              ([5, 8, 7, 3], "sigmoid")]:
        params, X = random_params(sizes, int(rng.integers(1 << 30))), rng.normal(size=(9, sizes[0]))
        logits, _cache = submission.forward(params, X, activation)
        assert_close(logits, forward(params, X, activation),
                     what=f"logits of a network with layer sizes {sizes} and {activation}")
    params, X = random_params([4, 6, 3], 611), rng.integers(0, 17, size=(5, 4))  # raw pixels
    remote_params, remote_X = submission.remote(params), submission.remote(X)
    logits, _cache = submission.forward(remote_params, remote_X, "relu")
    assert_close(logits, forward(params, X, "relu"),
                 what="logits of a network [4, 6, 3] for the integer X (pixel values 0 to 16)")
    assert_close(submission.fetch(remote_X), X, what="X after forward (must not change)")
    after = submission.fetch(remote_params)
    for key in sorted(params):
        assert_close(after[key], params[key], what=f"params[{key!r}] after forward (must not change)")


# --- (c) numerical gradient --------------------------------------------------------------------

@pytest.mark.cell("test_numerical")
@pytest.mark.points(1)
def test_numerical_gradient(submission):
    rng = np.random.default_rng(603)
    # the functions are the notebook's own (only data crosses the wire, not grader code)
    x = rng.normal(size=(2, 3)) * 2.0
    grad = submission.numerical_gradient(submission.logsumexp, x)
    assert_array(grad, shape=x.shape, dtype_kind="f", what="numerical_gradient of logsumexp")
    expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    error = relative_error(grad, expected)
    assert error < 1e-7, (f"numerical_gradient of logsumexp at a (2, 3) array: relative error "
                          f"{error:.1e} (needs < 1e-7: use the centered difference)")
    # the caller's x stays as it was ("work on a copy"): x lives in the notebook's process here
    remote_x = submission.remote(x)
    submission.numerical_gradient(submission.logsumexp, remote_x)
    assert np.array_equal(submission.fetch(remote_x), x), (
        "numerical_gradient changed the caller's x: work on a copy (np.array(x, dtype=float))")
    x = np.array([[1, -2, 0], [3, 1, 2]])  # integers: perturbed in a float copy
    grad = submission.numerical_gradient(submission.logsumexp, x)
    expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    assert_close(grad, expected, rtol=1e-7, atol=1e-9,
                 what=f"numerical_gradient of logsumexp at the integer array {x.tolist()} (a copy "
                      "of x that keeps its integer dtype rounds x + eps back to x)")
    x = rng.normal(size=(2, 2, 3))
    grad = submission.numerical_gradient(submission.np.linalg.norm, x, eps=1e-4)
    assert_array(grad, shape=x.shape, dtype_kind="f", what="numerical_gradient of a 3-D array")
    assert_close(grad, x / np.linalg.norm(x), rtol=1e-6, atol=1e-9,
                 what="numerical_gradient of the norm of a (2, 2, 3) array, eps=1e-4")


# --- (d) backward ------------------------------------------------------------------------------

def check_backward(submission, sizes, activation, seed):
    rng = np.random.default_rng(seed)
    params, X = random_params(sizes, seed), rng.normal(size=(7, sizes[0]))
    y = rng.integers(0, sizes[-1], size=7)
    _logits, cache = submission.forward(params, X, activation)
    grads = submission.backward(params, cache, y, activation)
    assert isinstance(grads, dict) and set(grads) == set(params), (
        f"backward must return a dict with the keys {sorted(params)}")
    for key in sorted(params):
        gradient_check(lambda v, key=key: cross_entropy(forward({**params, key: v}, X, activation), y),
                       lambda v, key=key: np.asarray(backward_of(submission, {**params, key: v},
                                                                 X, y, activation)[key]),
                       params[key], tol=1e-6,
                       what=f"gradient of {key} in a network {sizes} with {activation}")


def backward_of(submission, params, X, y, activation):
    _logits, cache = submission.forward(params, X, activation)
    return submission.backward(params, cache, y, activation)


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_output_layer(submission):
    check_backward(submission, [4, 3], "relu", 604)  # no hidden layer: softmax regression


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_relu(submission):
    check_backward(submission, [5, 6, 4, 3], "relu", 605)


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_sigmoid(submission):
    check_backward(submission, [5, 6, 4, 3], "sigmoid", 606)


# --- (e) training ------------------------------------------------------------------------------

@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_train_reaches_accuracy(submission):
    X, y = load_digits()
    order = np.random.default_rng(607).permutation(len(X))  # not the notebook's split
    train, held_out = order[:1350], order[1350:]
    accuracies = []

    def trial(seed):
        submission.seed(seed)
        params = submission.train(X[train], y[train], seed=seed, timeout=120)
        assert isinstance(params, dict) and {"W1", "b1", "W2", "b2"} <= set(params), (
            "train must return the params dict (W1, b1, W2, b2)")
        logits = forward({k: np.asarray(v, dtype=float) for k, v in params.items()},
                         X[held_out], "relu")
        accuracies.append(float(np.mean(np.argmax(logits, axis=1) == y[held_out])))
        return accuracies[-1] >= ACCURACY

    try:
        passes_for_seeds(trial, [11, 12, 13], need=2, what=f"held-out accuracy at least {ACCURACY}")
    except AssertionError as failure:  # say which accuracies were reached
        raise AssertionError(f"{failure} (accuracies: "
                             f"{', '.join(f'{a:.3f}' for a in accuracies)})") from None


def reference_gradients(params, X, y, activation):
    """The spec's backward pass for the mean cross-entropy."""
    n_layers = len(params) // 2
    A, As, Zs = X, [X], []
    for layer in range(1, n_layers + 1):
        Z = A @ params[f"W{layer}"] + params[f"b{layer}"]
        A = ACT[activation](Z) if layer < n_layers else Z
        Zs.append(Z)
        As.append(A)
    E = np.exp(Zs[-1] - Zs[-1].max(axis=1, keepdims=True))
    dZ = (E / E.sum(axis=1, keepdims=True) - np.eye(Zs[-1].shape[1])[y]) / len(y)
    grads = {}
    for layer in range(n_layers, 0, -1):
        grads[f"W{layer}"], grads[f"b{layer}"] = As[layer - 1].T @ dZ, dZ.sum(axis=0)
        if layer > 1:
            Z = Zs[layer - 2]
            derivative = (Z > 0).astype(float) if activation == "relu" else \
                sigmoid(Z) * (1 - sigmoid(Z))
            dZ = (dZ @ params[f"W{layer}"].T) * derivative
    return grads


@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_train_follows_its_hyperparameters(submission):
    """Small runs whose outcome the spec fixes: lr=0 leaves the initial parameters of ``hidden``
    and ``seed``; a batch of all examples makes each epoch one step of gradient descent, with the
    given ``lr`` and ``activation``; minibatches reproduce the spec's shuffling exactly."""
    rng = np.random.default_rng(610)
    X, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    start = {k: np.asarray(v, dtype=float)
             for k, v in submission.init_params([5, 7, 4, 3], seed=5).items()}
    still = submission.train(X, y, n_classes=3, hidden=(7, 4), epochs=2, lr=0.0, batch_size=8,
                             seed=5)
    assert isinstance(still, dict) and set(still) == set(start), (
        f"train with hidden=(7, 4) must return the keys {sorted(start)}")
    for key in sorted(start):
        assert_close(still[key], start[key], what=f"{key} after training with lr=0 (must stay "
                                                  "init_params([5, 7, 4, 3], seed=5))")
    expected = dict(start)
    for epoch in range(2):
        grads = reference_gradients(expected, X, y, "sigmoid")
        expected = {k: v - 0.3 * grads[k] for k, v in expected.items()}
        trained = submission.train(X, y, n_classes=3, hidden=(7, 4), epochs=epoch + 1, lr=0.3,
                                   batch_size=40, activation="sigmoid", seed=5)
        for key in sorted(start):
            assert_close(trained[key], expected[key], rtol=1e-6, atol=1e-9,
                         what=f"{key} after {epoch + 1} epoch(s) of full-batch training (batch_size"
                              "=40 = n, lr=0.3, sigmoid)")
    # minibatches, where the spec's details show: a new order every epoch from
    # rng = np.random.default_rng(seed), and a last batch of 2 (10 examples, batches of 4)
    X, y = X[:10], y[:10]
    expected = {k: np.asarray(v, dtype=float)
                for k, v in submission.init_params([5, 6, 3], seed=7).items()}
    rng = np.random.default_rng(7)
    for _epoch in range(3):
        order = rng.permutation(10)
        for start_at in range(0, 10, 4):
            batch = order[start_at:start_at + 4]
            grads = reference_gradients(expected, X[batch], y[batch], "relu")
            expected = {k: v - 0.2 * grads[k] for k, v in expected.items()}
    trained = submission.train(X, y, n_classes=3, hidden=(6,), epochs=3, lr=0.2, batch_size=4,
                               seed=7)
    for key in sorted(expected):
        assert_close(trained[key], expected[key], rtol=1e-6, atol=1e-9,
                     what=f"{key} after 3 epochs of minibatch training on 10 examples (batch_size"
                          "=4, so the last batch of each epoch has 2; lr=0.2, seed=7): shuffle "
                          "in every epoch with order = rng.permutation(n) from one rng = "
                          "np.random.default_rng(seed) made before the first epoch")


@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_predict(submission):
    rng = np.random.default_rng(608)
    params, X = random_params([6, 9, 5], 609), rng.normal(size=(40, 6))
    for activation in ["relu", "sigmoid"]:
        labels = submission.predict(params, X, activation)
        assert_array(labels, shape=(40,), dtype_kind="i", what="predict for 40 examples")
        assert_close(labels, np.argmax(forward(params, X, activation), axis=1),
                     what=f"predicted classes ({activation})")

"""Hidden graders for assignment 14-vanishing-gradients (never shown to students).

The weights the graders hand over are seeded, so every correct implementation computes the same
gradients up to rounding: gradient norms are compared with the reference's to a relative
tolerance (never an absolute one: a deep sigmoid network's first-layer norm is about 1e-38, and a
do-nothing zero must not pass for it). Backward passes are gradient-checked against finite
differences of the reference loss, except where ReLU meets a pre-activation of exactly 0 (there the
spec fixes relu'(0) = 0 and a finite difference cannot tell): those are compared with the
reference's formulas.
"""

from itertools import pairwise

import numpy as np
import pytest

from autograder.checks import assert_array, assert_close, gradient_check

RTOL = 1e-6  # relative: rounding differs between correct orders of the products by ~1e-14


# --- the spec, as the notebook states it ---------------------------------------------------------

def sigmoid(Z):
    Z = np.asarray(Z, dtype=float)
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(Z):
    s = sigmoid(Z)
    return s * (1 - s)


def relu(Z):
    return np.maximum(np.asarray(Z, dtype=float), 0.0)


def relu_grad(Z):
    return (np.asarray(Z) > 0).astype(float)


ACT = {"sigmoid": (sigmoid, sigmoid_grad), "relu": (relu, relu_grad)}
STDS = {"small": lambda fan_in, fan_out: 0.01,
        "xavier": lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
        "he": lambda fan_in, fan_out: np.sqrt(2 / fan_in)}


def init_weights(sizes, init, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, STDS[init](fan_in, fan_out), size=(fan_in, fan_out))
            for fan_in, fan_out in pairwise(sizes)]


def forward(Ws, X, activation):
    act = ACT[activation][0]
    A = np.asarray(X, dtype=float)
    As, Zs = [A], []
    for layer, W in enumerate(Ws):
        Z = A @ W
        A = act(Z) if layer < len(Ws) - 1 else Z
        Zs.append(Z)
        As.append(A)
    return As, Zs


def loss(out, T):
    return float(np.sum((out - np.asarray(T, dtype=float)) ** 2) / (2 * len(out)))


def gradients(Ws, X, T, activation):
    As, Zs = forward(Ws, X, activation)
    delta = (As[-1] - np.asarray(T, dtype=float)) / len(As[0])
    dWs = [None] * len(Ws)
    for layer in range(len(Ws) - 1, -1, -1):
        dWs[layer] = As[layer].T @ delta
        if layer:
            delta = (delta @ Ws[layer].T) * ACT[activation][1](Zs[layer - 1])
    return dWs


def norms(Ws, X, T, activation):
    return np.array([np.linalg.norm(dW) for dW in gradients(Ws, X, T, activation)])


def residual_forward(X, W, activation):
    X = np.asarray(X, dtype=float)
    return X + ACT[activation][0](X @ W)


def residual_backward(dY, X, W, activation):
    """(dX, dW) of one block at input X."""
    X, dY = np.asarray(X, dtype=float), np.asarray(dY, dtype=float)
    delta = dY * ACT[activation][1](X @ W)
    return dY + delta @ W.T, X.T @ delta


def residual_stack(Ws, X, activation):
    inputs, out = [], np.asarray(X, dtype=float)
    for W in Ws:
        inputs.append(out)
        out = residual_forward(out, W, activation)
    return inputs, out


def residual_norms(Ws, X, T, activation):
    inputs, out = residual_stack(Ws, X, activation)
    dY, result = (out - np.asarray(T, dtype=float)) / len(out), np.zeros(len(Ws))
    for layer in range(len(Ws) - 1, -1, -1):
        dY, dW = residual_backward(dY, inputs[layer], Ws[layer], activation)
        result[layer] = np.linalg.norm(dW)
    return result


def batch(seed, n, d, k=None):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, k or d))


def measure(activation, init, depth=20, width=16, size=8, seed=0, residual=False):
    rng = np.random.default_rng(seed)
    X, T = rng.normal(size=(size, width)), rng.normal(size=(size, width))
    Ws = init_weights([width] * (depth + 1), init, seed + 1)
    return (residual_norms if residual else norms)(Ws, X, T, activation)


# --- how results are compared and explained ------------------------------------------------------

def fmt(values) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in np.asarray(values, dtype=float).ravel()) + "]"


def same_data(a, b, rtol: float = 0.0) -> bool:
    """Equal plain data (arrays of the same shape and values, to ``rtol``; numbers, lists,
    tuples and dicts of them)."""
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(
            same_data(a[k], b[k], rtol) for k in b)
    if isinstance(b, list | tuple):
        return isinstance(a, list | tuple) and len(a) == len(b) and all(
            same_data(x, y, rtol) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if rtol and a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
        return bool(np.allclose(a, b, rtol=rtol, atol=0))
    return bool(np.array_equal(a, b))


def check_unchanged(submission, placed: dict, originals: dict, call: str):
    for name, ref in placed.items():
        assert same_data(submission.fetch(ref), originals[name]), (
            f"{call} changed the caller's {name} in place: it must be left as it was "
            "(convention 4: compute new arrays, A = A + ..., not A += ... or A[...] = ...)")


def check_repeatable(first, second, call: str):
    """Two calls with the same arguments must give the same result."""
    if not same_data(second, first, rtol=1e-12):
        raise AssertionError(f"{call} gives another result when called a second time with the "
                             "same arguments: do the gradients add up across calls? Start every "
                             "call from new arrays; keep nothing between calls (convention 4)")


def as_floats(value, shape, what):
    assert_array(value, shape=shape, what=what)
    assert value.dtype.kind == "f", (f"{what} has dtype {value.dtype}: return a float array "
                                     "(convention 3: integer inputs give float results)")
    return value


def norms_hint(got, expected) -> str:
    """Where a list of per-layer norms departs from the expected one, counted from the output."""
    if got.shape == expected.shape and np.allclose(got[::-1], expected, rtol=RTOL, atol=0):
        return "they are in reverse order: the first layer's norm comes first"
    ratio = got / np.where(expected == 0, np.nan, expected)
    finite = ratio[np.isfinite(ratio)]
    if finite.size == ratio.size and np.allclose(ratio, ratio[0], rtol=1e-4) and ratio[0] != 0:
        return (f"every layer is off by the same factor {ratio[0]:.4g}: the loss is "
                "sum((out - T)**2) / (2 n), so the first delta is (out - T) / n")
    wrong = [layer for layer in range(len(expected))
             if not np.isclose(got[layer], expected[layer], rtol=RTOL, atol=0)]
    last = wrong[-1] + 1
    if last == len(expected):
        return (f"the last layer ({last}) is already wrong: its gradient is A{last - 1}.T @ "
                "(out - T) / n")
    return (f"layers {last + 1} to {len(expected)} agree and layer {last} is the last that "
            f"differs: look at how the gradient passes back from layer {last + 1} to layer "
            f"{last} (delta @ W{last + 1}.T, times act' at Z{last}, the pre-activation)")


def check_norms(got, expected, call: str, others=()):
    """``others``: (norms, hint) pairs of known departures from the spec, tried first."""
    got = as_floats(np.asarray(got) if isinstance(got, list | tuple) else got,
                    expected.shape, call)
    assert np.all(np.isfinite(got)), f"{call} contains NaN or infinity"
    if not np.allclose(got, expected, rtol=RTOL, atol=0):
        hints = [hint for other, hint in others 
                 if other.shape == got.shape and np.allclose(got, other, rtol=RTOL, atol=0)]
        raise AssertionError(f"{call} should be {fmt(expected)}, yours is {fmt(got)}: "
                             + (hints[0] if hints else norms_hint(got, expected)))


def measure_departures(activation, init, depth=20, width=16, size=8, seed=0, residual=False):
    """The norms of measure_norms's likely departures from its spec, with what each does."""
    rng = np.random.default_rng(seed)
    X, T = rng.normal(size=(size, width)), rng.normal(size=(size, width))
    rng = np.random.default_rng(seed)
    T2, X2 = rng.normal(size=(size, width)), rng.normal(size=(size, width))
    of = residual_norms if residual else norms
    sizes = [width] * (depth + 1)
    return [(of(init_weights(sizes, init, seed), X, T, activation),
             "the weights are drawn with seed; the spec draws them with seed + 1"),
            (of(init_weights(sizes, init, seed + 1), X2, T2, activation),
             "T is drawn before X; the spec draws X first, then T")]


def check_weights(got, expected, what: str):
    """Student's dWs or Ws (lists) against the reference, naming the first wrong layer from the
    output side."""
    assert isinstance(got, list | tuple) and len(got) == len(expected), (
        f"{what} must be a list of {len(expected)} arrays, one per layer, got "
        f"{type(got).__name__}" + (f" of length {len(got)}" if isinstance(got, list | tuple)
                                   else ""))
    for layer in range(len(expected) - 1, -1, -1):
        assert_array(got[layer], shape=expected[layer].shape, what=f"{what}[{layer}]")
        scale = float(np.max(np.abs(expected[layer])))
        assert_close(got[layer], expected[layer], rtol=RTOL, atol=RTOL * scale,
                     what=f"{what}[{layer}] (layer {layer + 1} of {len(expected)}"
                          + (", the layers after it agree)" if layer < len(expected) - 1 else
                             ", the last layer)"))


# --- (a) activations ----------------------------------------------------------------------------

def check_activation(submission, name, Z, expected, *, hint=""):
    placed = submission.remote(Z)
    call = f"{name}(Z = {fmt(Z)})" if Z.size <= 8 else f"{name} of an array of shape {Z.shape}"
    got = as_floats(getattr(submission, name)(placed), Z.shape, call)
    assert np.all(np.isfinite(got)), f"{call} contains NaN or infinity (overflow?)"
    if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
        worst = np.unravel_index(np.argmax(np.abs(got - expected)), Z.shape)
        raise AssertionError(f"{call}: at Z = {Z[worst]:g} it should be {expected[worst]:.6g}, "
                             f"yours is {got[worst]:.6g}{hint}")
    check_unchanged(submission, {"Z": placed}, {"Z": Z}, call)


@pytest.mark.cell("test_activations")
@pytest.mark.points(1)
def test_sigmoid_and_its_derivative(submission):
    rng = np.random.default_rng(1401)
    floats = np.concatenate([rng.normal(size=9) * 3, [0.0, -30.0, 30.0, -745.0, 800.0, -1e4]])
    integers = np.array([[-3, 0, 2], [5, -1, 40]])
    for Z in (floats, floats.reshape(3, 5), integers):
        check_activation(submission, "sigmoid", Z, sigmoid(Z), hint=(
            " (integer Z: is the result written into an integer array, such as "
            "np.empty_like(Z)? Return a float array)" if Z.dtype.kind == "i" else ""))
    for Z in (floats, integers):
        got = np.asarray(submission.sigmoid_grad(Z), dtype=float)
        hint = ""
        if got.shape == Z.shape and np.allclose(got, sigmoid(Z)):
            hint = " (that is sigmoid(Z) itself, not its derivative sigmoid(Z) * (1 - sigmoid(Z)))"
        elif got.shape == Z.shape and np.allclose(got, Z * (1 - Z)):
            hint = (" (Z * (1 - Z) is the derivative written with the activation A = sigmoid(Z)"
                    "; sigmoid_grad takes the pre-activation Z: sigmoid(Z) * (1 - sigmoid(Z)))")
        check_activation(submission, "sigmoid_grad", Z, sigmoid_grad(Z), hint=hint)


@pytest.mark.cell("test_activations")
@pytest.mark.points(1)
def test_relu_and_its_derivative(submission):
    rng = np.random.default_rng(1402)
    Z = np.concatenate([rng.normal(size=6), [0.0, -0.0, 2.5, -1e-300, 1e-300, 0.0]]).reshape(3, 4)
    integers = np.array([[-2, 0, 3], [0, 7, -1]])
    for values in (Z, integers):
        check_activation(submission, "relu", values, relu(values))
        check_activation(submission, "relu_grad", values, relu_grad(values),
                         hint=" (the spec takes relu'(0) = 0: 1 where Z > 0, 0 where Z <= 0)")


# --- (a) initialisation ------------------------------------------------------------------------

INIT_FORMULAS = {
    "0.01": lambda fan_in, fan_out: 0.01,
    "sqrt(2 / (fan_in + fan_out)) (Xavier)": lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
    "sqrt(2 / fan_in) (He)": lambda fan_in, fan_out: np.sqrt(2 / fan_in),
    "sqrt(2 / fan_out)": lambda fan_in, fan_out: np.sqrt(2 / fan_out),
    "sqrt(1 / fan_in)": lambda fan_in, fan_out: np.sqrt(1 / fan_in),
    "sqrt(1 / fan_out)": lambda fan_in, fan_out: np.sqrt(1 / fan_out),
    "sqrt(6 / (fan_in + fan_out)) (the bound of Xavier's uniform version)":
        lambda fan_in, fan_out: np.sqrt(6 / (fan_in + fan_out)),
    "sqrt(1 / (fan_in + fan_out))": lambda fan_in, fan_out: np.sqrt(1 / (fan_in + fan_out)),
}


def std_hint(W, expected, fan_in, fan_out, init) -> str:
    ratio = W / expected
    if not np.allclose(ratio, ratio.flat[0], rtol=1e-6):
        return ("the draws differ from rng.normal(0.0, std, size=(fan_in, fan_out)) with "
                "rng = np.random.default_rng(seed), one call per layer in layer order")
    std = float(ratio.flat[0]) * STDS[init](fan_in, fan_out)
    names = [name for name, formula in INIT_FORMULAS.items()
             if np.isclose(std, formula(fan_in, fan_out), rtol=1e-6)]
    found = f" = {names[0]}" if names else ""
    return (f"your std is {std:.6g}{found}, the spec's for {init!r} with fan_in = {fan_in}, "
            f"fan_out = {fan_out} is {STDS[init](fan_in, fan_out):.6g}")


@pytest.mark.cell("test_init")
@pytest.mark.points(1)
def test_init_weights(submission):
    for sizes, seed in [([5, 12, 7, 3], 1403), ([16, 4, 9], 7)]:
        for init in ("small", "xavier", "he"):
            call = f"init_weights({sizes}, {init!r}, seed={seed})"
            got = submission.init_weights(sizes, init, seed=seed)
            expected = init_weights(sizes, init, seed)
            assert isinstance(got, list | tuple) and len(got) == len(expected), (
                f"{call} must return a list of {len(expected)} matrices, one per layer")
            for layer, (W, W_ref) in enumerate(zip(got, expected), start=1):
                as_floats(W, W_ref.shape, f"W{layer} of {call}")
                if not np.allclose(W, W_ref, rtol=1e-12, atol=0):
                    raise AssertionError(
                        f"{call}: W{layer} (fan_in {sizes[layer - 1]}, fan_out {sizes[layer]}) "
                        "is not the spec's draw: "
                        + std_hint(W, W_ref, sizes[layer - 1], sizes[layer], init))


# --- (a) forward and backward ------------------------------------------------------------------

def student_gradients(submission, Ws, X, T, activation):
    _out, cache = submission.forward(Ws, X, activation)
    return submission.backward(Ws, cache, T, activation)


def check_network(submission, sizes, activation, init, seed):
    """forward's output, then backward gradient-checked layer by layer from the output back, so
    the message names the first layer (from the output side) whose gradient is wrong."""
    Ws = init_weights(sizes, init, seed)
    X, T = batch(seed + 100, 6, sizes[0], sizes[-1])
    net = f"a network {sizes} with {activation}"
    out, _cache = submission.forward(Ws, X, activation)
    assert_close(out, forward(Ws, X, activation)[0][-1], rtol=1e-9, atol=1e-12,
                 what=f"out of forward for {net} (the last layer is linear: out = Z{len(Ws)})")
    dWs = student_gradients(submission, Ws, X, T, activation)
    assert isinstance(dWs, list | tuple) and len(dWs) == len(Ws), (
        f"backward for {net} must return a list of {len(Ws)} arrays [dW1, ..., dW{len(Ws)}]")
    for layer in range(len(Ws) - 1, -1, -1):
        def with_layer(W, layer=layer):
            return [*Ws[:layer], W, *Ws[layer + 1:]]

        def f(W, with_layer=with_layer):
            return loss(forward(with_layer(W), X, activation)[0][-1], T)

        def grad_f(W, with_layer=with_layer, layer=layer):
            return np.asarray(student_gradients(submission, with_layer(W), X, T, activation)[layer],
                              dtype=float)

        after = "; the layers after it agree" if layer < len(Ws) - 1 else ""
        gradient_check(f, grad_f, Ws[layer], tol=1e-6,
                       what=f"dW{layer + 1} (layer {layer + 1} of {len(Ws)}) in {net}{after} "
                            "(check act' at the pre-activation Z and the mean over the batch)")


@pytest.mark.cell("test_network")
@pytest.mark.points(1)
def test_backward_gradient_check(submission):
    check_network(submission, [5, 7, 6, 3], "sigmoid", "xavier", 1404)
    check_network(submission, [4, 6, 5, 2], "relu", "he", 1405)
    check_network(submission, [3, 4, 4, 4, 2], "sigmoid", "he", 1406)


@pytest.mark.cell("test_network")
@pytest.mark.points(1)
def test_backward_at_relu_kinks_with_integer_inputs(submission):
    """Pre-activations of exactly 0 (the spec's relu'(0) = 0), integer X and T placed in the
    notebook's process, the caller's arrays left alone, and a second call like the first."""
    rng = np.random.default_rng(1407)
    X = rng.integers(-1, 2, size=(6, 4))
    T = rng.integers(-2, 3, size=(6, 2))
    Ws = [rng.integers(-1, 2, size=shape).astype(float) for shape in [(4, 5), (5, 5), (5, 2)]]
    As, Zs = forward(Ws, X, "relu")
    assert np.sum(Zs[0] == 0) >= 5 and np.sum(Zs[1] == 0) >= 5  # the kinks are there
    expected = gradients(Ws, X, T, "relu")
    placed = {"X": submission.remote(X), "T": submission.remote(T), "Ws": submission.remote(Ws)}
    out, cache = submission.forward(placed["Ws"], placed["X"], "relu")
    assert_close(out, As[-1], rtol=1e-12, atol=1e-12,
                 what="out of forward on an integer X (6, 4), relu")
    placed["cache"] = submission.remote(cache)
    first = submission.backward(placed["Ws"], placed["cache"], placed["T"], "relu")
    second = submission.backward(Ws, cache, T, "relu")
    check_repeatable(first, second, "backward")
    check_weights(first, expected, "backward on an integer X and T with pre-activations of "
                                   "exactly 0 (relu'(0) = 0): dWs")
    check_unchanged(submission, placed, {"X": X, "T": T, "Ws": Ws, "cache": cache},
                    "forward or backward")
    first, second = (submission.gradient_norms(Ws, X, T, "relu") for _ in range(2))
    check_repeatable(first, second, "gradient_norms")
    check_norms(first, norms(Ws, X, T, "relu"), "gradient_norms on that network")


# --- (b) the measured norms --------------------------------------------------------------------

@pytest.mark.cell("test_measure")
@pytest.mark.points(1)
def test_deep_norms_on_the_graders_weights(submission):
    for activation, init, seed in [("sigmoid", "small", 1408), ("relu", "he", 1409),
                                   ("sigmoid", "xavier", 1410)]:
        Ws = init_weights([16] * 21, init, seed)
        X, T = batch(seed + 100, 8, 16)
        expected = norms(Ws, X, T, activation)
        call = (f"gradient_norms on a network of 20 layers of width 16 ({activation}, {init} "
                f"initialisation, batch 8)")
        first, second = (submission.gradient_norms(Ws, X, T, activation) for _ in range(2))
        check_repeatable(first, second, "gradient_norms")
        check_norms(first, expected, call)


@pytest.mark.cell("test_measure")
@pytest.mark.points(1)
def test_measured_sigmoid_vanishes_and_relu_does_not(submission):
    sigmoid_small = measure("sigmoid", "small", depth=24, seed=3)
    relu_he = measure("relu", "he", depth=24, seed=3)
    for (activation, init), expected in [(("sigmoid", "small"), sigmoid_small),
                                         (("relu", "he"), relu_he)]:
        check_norms(submission.measure_norms(activation, init, depth=24, width=16, batch=8,
                                             seed=3),
                    expected, f"measure_norms({activation!r}, {init!r}, depth=24, seed=3)",
                    measure_departures(activation, init, depth=24, seed=3))
    check_norms(submission.measure_norms("sigmoid", "xavier", depth=6, width=5, batch=3, seed=9),
                measure("sigmoid", "xavier", depth=6, width=5, size=3, seed=9),
                "measure_norms('sigmoid', 'xavier', depth=6, width=5, batch=3, seed=9)")
    # the property, on the student's own (now checked) numbers
    assert sigmoid_small[0] < 1e-30 * sigmoid_small[-1] and 0.1 < relu_he[0] / relu_he[-1] < 10


# --- (c) residual blocks -----------------------------------------------------------------------

def residual_grads_of(submission, dY, X, W, activation):
    _Y, cache = submission.residual_forward(X, W, activation)
    result = submission.residual_backward(dY, cache, W, activation)
    assert isinstance(result, list | tuple) and len(result) == 2, (
        "residual_backward must return a tuple (dX, dW)")
    return result


def check_residual_block(submission, X, W, activation, seed):
    m = W.shape[0]
    G = np.random.default_rng(seed).normal(size=(len(X), m))  # dY: the loss is sum(G * Y)
    block = f"a residual block of width {m} ({activation})"
    Y, _cache = submission.residual_forward(X, W, activation)
    assert_close(Y, residual_forward(X, W, activation), rtol=1e-9, atol=1e-12,
                 what=f"Y of {block} (Y = X + act(X @ W))")
    dX = residual_grads_of(submission, G, X, W, activation)[0]
    dX_ref = residual_backward(G, X, W, activation)[0]
    assert_array(dX, shape=X.shape, what=f"dX of {block}")
    if np.allclose(dX, dX_ref - G, rtol=1e-6, atol=1e-9):
        raise AssertionError(f"dX of {block}: the identity path is missing: Y = X + act(Z), so "
                             "dX = dY + (dY * act'(Z)) @ W.T; the gradient reaches X through both "
                             "terms")
    gradient_check(lambda x: float(np.sum(G * residual_forward(x, W, activation))),
                   lambda x: np.asarray(residual_grads_of(submission, G, x, W, activation)[0],
                                        dtype=float),
                   X, tol=1e-6, what=f"dX of {block} (dX = dY + delta @ W.T)")
    gradient_check(lambda w: float(np.sum(G * residual_forward(X, w, activation))),
                   lambda w: np.asarray(residual_grads_of(submission, G, X, w, activation)[1],
                                        dtype=float),
                   W, tol=1e-6, what=f"dW of {block} (dW = X.T @ delta, delta = dY * act'(Z))")


@pytest.mark.cell("test_residual")
@pytest.mark.points(1)
def test_residual_block_gradient_check(submission):
    rng = np.random.default_rng(1411)
    for activation, m, seed in [("sigmoid", 5, 1412), ("relu", 4, 1413)]:
        X = rng.normal(size=(6, m))
        W = rng.normal(size=(m, m)) / np.sqrt(m)
        check_residual_block(submission, X, W, activation, seed)


@pytest.mark.cell("test_residual")
@pytest.mark.points(1)
def test_residual_block_inputs_left_alone(submission):
    """Integer and float X and dY placed in the notebook's process: the results are floats,
    right, and the caller's X, dY and W stay as they were."""
    rng = np.random.default_rng(1414)
    W = rng.normal(size=(4, 4)) * 0.5
    cases = [("an integer", rng.integers(-3, 4, size=(5, 4)), rng.integers(-2, 3, size=(5, 4))),
             ("a float", rng.normal(size=(5, 4)), rng.normal(size=(5, 4)))]
    for (kind, X, dY), activation in zip(cases * 2, ["sigmoid", "sigmoid", "relu", "relu"]):
        placed = {"X": submission.remote(X), "W": submission.remote(W),
                  "dY": submission.remote(dY)}
        Y, cache = submission.residual_forward(placed["X"], placed["W"], activation)
        call = f"residual_forward(X, W, {activation!r}) with {kind} X {X.shape}"
        assert_close(as_floats(Y, X.shape, call), residual_forward(X, W, activation),
                     rtol=1e-9, atol=1e-12, what=call)
        check_unchanged(submission, {"X": placed["X"], "W": placed["W"]}, {"X": X, "W": W}, call)
        result = submission.residual_backward(placed["dY"], cache, placed["W"], activation)
        assert isinstance(result, list | tuple) and len(result) == 2, (
            "residual_backward must return a tuple (dX, dW)")
        dX_ref, dW_ref = residual_backward(dY, X, W, activation)
        call = f"residual_backward with {kind} dY {dY.shape} ({activation})"
        assert_close(as_floats(result[0], X.shape, f"dX of {call}"), dX_ref, rtol=1e-9,
                     atol=1e-12, what=f"dX of {call}")
        assert_close(as_floats(result[1], W.shape, f"dW of {call}"), dW_ref, rtol=1e-9,
                     atol=1e-12, what=f"dW of {call}")
        check_unchanged(submission, placed, {"X": X, "W": W, "dY": dY}, call)


@pytest.mark.cell("test_residual")
@pytest.mark.points(1)
def test_the_gradient_reaches_the_first_block(submission):
    for activation, init, seed in [("sigmoid", "small", 1415), ("relu", "small", 1416)]:
        Ws = init_weights([16] * 21, init, seed)
        X, T = batch(seed + 100, 8, 16)
        expected = residual_norms(Ws, X, T, activation)
        call = (f"residual_gradient_norms on 20 residual blocks of width 16 ({activation}, "
                f"{init} initialisation, batch 8)")
        got = submission.residual_gradient_norms(Ws, X, T, activation)
        got_array = np.asarray(got, dtype=float) if isinstance(got, list | tuple | np.ndarray) \
            else None
        if got_array is not None and got_array.shape == expected.shape and got_array[0] < \
                1e-6 * expected[0]:
            raise AssertionError(f"{call}: the first block's gradient norm is {got_array[0]:.3g}, "
                                 f"it should be {expected[0]:.4g}: the gradient vanishes on its "
                                 "way back, so the identity path is missing (dX = dY + delta @ "
                                 "W.T in residual_backward)")
        check_norms(got, expected, call)
        assert expected[0] > 1e-2 * expected[-1]
    check_norms(submission.measure_norms("sigmoid", "small", depth=12, seed=4, residual=True),
                measure("sigmoid", "small", depth=12, seed=4, residual=True),
                "measure_norms('sigmoid', 'small', depth=12, seed=4, residual=True)",
                measure_departures("sigmoid", "small", depth=12, seed=4, residual=True))

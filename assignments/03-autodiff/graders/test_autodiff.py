"""Hidden graders for assignment 03-autodiff (never shown to students).

The student's ``Value`` objects stay in the notebook's process: the graders build graphs through
handles (``submission.v_mul(a, b)`` with ``a``, ``b`` handles), read ``.data`` and ``.grad``, and
compare gradients with centered finite differences of the same expression evaluated here in
NumPy. Calls that walk a graph carry a timeout, so an endless or exponential backward fails
quickly instead of holding the grading run.

The neuron is also run on integer arrays (the spec allows them), and once on arrays passed with
``submission.remote``, read back afterwards: the caller's w, X and y must not change.
"""

import math

import numpy as np
import pytest

from autograder.checks import assert_close, gradient_check

CALL_TIMEOUT = 10  # s for one backward over a graph the reference walks in milliseconds


# --- (a) sum and product -----------------------------------------------------------------------

@pytest.mark.cell("test_ops_basic")
@pytest.mark.points(1)
def test_add_and_mul_local_gradients(submission):
    rng = np.random.default_rng(301)
    for x, y, upstream in rng.normal(size=(4, 3)) * 2.0:
        a, b = submission.Value(float(x)), submission.Value(float(y))
        total = submission.v_add(a, b)
        assert_close(total.data, x + y, what=f"v_add({x:.3f}, {y:.3f}).data")
        assert_close(submission.local_gradients(total, float(upstream)), [upstream, upstream],
                     what=f"gradients of v_add({x:.3f}, {y:.3f}) for upstream {upstream:.3f}")
        product = submission.v_mul(a, b)
        assert_close(product.data, x * y, what=f"v_mul({x:.3f}, {y:.3f}).data")
        assert_close(submission.local_gradients(product, float(upstream)),
                     [y * upstream, x * upstream],
                     what=f"gradients [a, b] of v_mul({x:.3f}, {y:.3f}) for upstream "
                          f"{upstream:.3f}")
    a = submission.Value(1.25)
    assert_close(submission.v_mul(a, 4).data, 5.0, what="v_mul(Value(1.25), 4).data")
    assert_close(submission.local_gradients(submission.v_add(-0.5, a), 2.0), [2.0, 2.0],
                 what="gradients of v_add(-0.5, Value(1.25)) for upstream 2")
    assert_close(a.data, 1.25, what="an input's data after the operations (must not change)")


@pytest.mark.cell("test_ops_basic")
@pytest.mark.points(1)
def test_gradients_accumulate(submission):
    rng = np.random.default_rng(302)
    for x, upstream in rng.normal(size=(3, 2)) * 2.0:
        a = submission.Value(float(x))
        assert_close(submission.local_gradients(submission.v_mul(a, a), float(upstream)),
                     [2 * x * upstream] * 2,
                     what=f"gradient of x * x at x = {x:.3f} (both contributions must add up; "
                          "use +=)")
        assert_close(submission.local_gradients(submission.v_add(a, a), float(upstream)),
                     [2 * upstream] * 2,
                     what=f"gradient of x + x at x = {x:.3f} (both contributions must add up)")


# --- (b) more operations -----------------------------------------------------------------------

def check_unary(submission, name, function, derivative_what, points, k=None):
    """Value and local gradient of one unary operation, against finite differences."""
    operation = getattr(submission, name)
    call = (lambda a: operation(a, k)) if k is not None else operation
    label = f"{name}(a, {k})" if k is not None else f"{name}(a)"
    for x, upstream in points:
        out = call(submission.Value(float(x)))
        assert_close(out.data, function(x), what=f"{label}.data at a = {x:.4g}")
        gradient_check(lambda v, up=upstream: up * function(v[0]),
                       lambda v, up=upstream: np.array(
                           submission.local_gradients(call(submission.Value(float(v[0]))), up)),
                       np.array([x]), tol=1e-6,
                       what=f"{derivative_what} at a = {x:.4g} (upstream {upstream:.3g})")


@pytest.mark.cell("test_ops_more")
@pytest.mark.points(1)
def test_pow(submission):
    rng = np.random.default_rng(303)
    for k in [2, 3, -1, 0.5, -2.5]:
        points = list(zip(rng.uniform(0.3, 2.0, size=2), rng.normal(size=2)))
        check_unary(submission, "v_pow", lambda a, k=k: a ** k, f"gradient of a ** {k}",
                    points, k=k)
    # whole powers at 0 and below it, where k * out / a (a formula right for every a > 0) fails
    for k, points in [(2, [(0.0, 1.3), (-1.5, 0.7)]), (3, [(-1.5, 0.7)])]:
        check_unary(submission, "v_pow", lambda a, k=k: a ** k, f"gradient of a ** {k}",
                    points, k=k)


@pytest.mark.cell("test_ops_more")
@pytest.mark.points(1)
def test_exp_and_log(submission):
    rng = np.random.default_rng(304)
    check_unary(submission, "v_exp", math.exp, "gradient of exp(a)",
                list(zip(rng.uniform(-3, 3, size=4), rng.normal(size=4))))
    check_unary(submission, "v_log", math.log, "gradient of log(a)",
                list(zip(rng.uniform(0.2, 5, size=4), rng.normal(size=4))))


@pytest.mark.cell("test_ops_more")
@pytest.mark.points(1)
def test_tanh_and_relu(submission):
    rng = np.random.default_rng(305)
    check_unary(submission, "v_tanh", math.tanh, "gradient of tanh(a)",
                list(zip(rng.uniform(-2.5, 2.5, size=5), rng.normal(size=5))))
    # away from the kink at 0, where finite differences are meaningless
    xs = np.concatenate([rng.uniform(0.1, 3, size=3), -rng.uniform(0.1, 3, size=3)])
    check_unary(submission, "v_relu", lambda a: max(a, 0.0), "gradient of relu(a)",
                list(zip(xs, rng.normal(size=6))))
    # at the kink itself the spec fixes the derivative: 0
    out = submission.v_relu(submission.Value(0.0))
    assert_close(out.data, 0.0, what="v_relu(Value(0.0)).data")
    assert_close(submission.local_gradients(out, 2.5), [0.0],
                 what="gradient of relu(a) at exactly a = 0 (the spec takes it as 0)")


# --- (c) backward ------------------------------------------------------------------------------
# A graph is a program over a list of nodes that starts with the inputs: ("add", i, j) and
# ("mul", i, j) append node[i] + node[j] or node[i] * node[j]; ("scale", i, c) appends
# node[i] * c for a plain number c. The last node is the root.

def evaluate(program, x):
    nodes = [float(v) for v in x]
    for op, i, j in program:
        nodes.append(nodes[i] + nodes[j] if op == "add" else
                     nodes[i] * nodes[j] if op == "mul" else nodes[i] * j)
    return nodes


def build_remote(submission, program, x):
    nodes = [submission.Value(float(v)) for v in x]
    for op, i, j in program:
        nodes.append(submission.v_add(nodes[i], nodes[j]) if op == "add" else
                     submission.v_mul(nodes[i], nodes[j]) if op == "mul" else
                     submission.v_mul(nodes[i], float(j)))
    return nodes


def remote_gradient(submission, program, x):
    nodes = build_remote(submission, program, x)
    submission.backward(nodes[-1], timeout=CALL_TIMEOUT)
    return np.array([node.grad for node in nodes[:len(x)]])


def check_program(submission, program, x, what):
    gradient_check(lambda v: evaluate(program, v)[-1],
                   lambda v: remote_gradient(submission, program, v),
                   np.asarray(x, dtype=float), tol=1e-6, what=what)


def random_program(rng, n_inputs, n_ops):
    """A random graph with many shared nodes, its values kept moderate."""
    while True:
        program, size = [], n_inputs
        for _ in range(n_ops):
            i, j = (int(v) for v in rng.integers(max(0, size - 5), size, size=2))
            op = str(rng.choice(["add", "mul", "scale"], p=[0.4, 0.4, 0.2]))
            program.append((op, i, float(rng.uniform(-1.5, 1.5)) if op == "scale" else j))
            size += 1
        if max(abs(v) for v in evaluate(program, np.ones(n_inputs) * 1.5)) < 1e3:
            return program


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_shared_nodes(submission):
    # u = x*y is used by two nodes; v = u + z is used twice
    program = [("mul", 0, 1), ("add", 3, 2), ("mul", 4, 3), ("mul", 4, 4), ("add", 5, 6)]
    rng = np.random.default_rng(306)
    for x in rng.uniform(-2, 2, size=(3, 3)):
        check_program(submission, program, x,
                      what=f"gradient [x, y, z] of (x*y + z)*(x*y) + (x*y + z)**2 at {np.round(x, 3)}")
    x = submission.Value(0.7)
    root = submission.v_mul(submission.v_mul(x, x), x)
    submission.backward(root, timeout=CALL_TIMEOUT)
    assert_close(root.grad, 1.0, what="root.grad after backward(root)")
    assert_close(x.grad, 3 * 0.7 ** 2, what="gradient of x*x*x at x = 0.7")


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_random_graphs(submission):
    rng = np.random.default_rng(307)
    for trial in range(3):
        program = random_program(rng, 3, 18)
        x = rng.uniform(0.5, 1.5, size=3)
        check_program(submission, program, x,
                      what=f"gradient of the inputs of a random graph #{trial + 1} "
                           f"({len(program)} operations, many shared nodes)")


@pytest.mark.cell("test_backward")
@pytest.mark.points(1)
def test_backward_deep_graph_and_inner_nodes(submission):
    # a chain 200 operations deep: y <- y * c + x from y = x, the input x reused at every step
    rng = np.random.default_rng(308)
    program = []
    for c in rng.uniform(0.5, 0.95, size=100):
        last = len(program)  # the node made last (the input x at first)
        program += [("scale", last, float(c)), ("add", last + 1, 0)]
    check_program(submission, program, rng.uniform(0.5, 1.5, size=1),
                  what="gradient of a chain 200 operations deep")
    # inner nodes get d(root)/d(node) too: f = (a*b) * c, so d f / d(a*b) = c
    a, b, c = (submission.Value(v) for v in (1.5, -2.0, 0.8))
    inner = submission.v_mul(a, b)
    root = submission.v_mul(inner, c)
    submission.backward(root, timeout=CALL_TIMEOUT)
    assert_close(inner.grad, 0.8, what="grad of the inner node a*b in (a*b)*c")
    assert_close([a.grad, b.grad, c.grad], [-1.6, 1.2, -3.0], what="grads [a, b, c] of (a*b)*c")


# --- (d) the neuron ----------------------------------------------------------------------------

def neuron_loss(w, b, X, y):
    return float(np.mean((np.tanh(X @ w + b) - y) ** 2))


NEURON_CASES = [(7, 4, 309), (1, 1, 310), (12, 2, 311)]


def neuron_case(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)), rng.normal(size=n)


@pytest.mark.cell("test_neuron")
@pytest.mark.points(1)
def test_neuron_loss(submission):
    for n, d, seed in NEURON_CASES:
        w, b, X, y = neuron_case(n, d, seed)
        loss, dw, db = submission.neuron_loss_and_grads(w, b, X, y)
        assert np.ndim(loss) == 0 and np.ndim(db) == 0, "loss and db must be numbers"
        assert np.shape(dw) == (d,), f"dw must have shape ({d},), got {np.shape(dw)}"
        assert_close(loss, neuron_loss(w, b, X, y), what=f"loss for X of shape {X.shape}")


@pytest.mark.cell("test_neuron")
@pytest.mark.points(1)
def test_neuron_gradients(submission):
    for n, d, seed in NEURON_CASES:
        check_neuron_gradients(submission, *neuron_case(n, d, seed))
    w, b, X, y = neuron_case(5, 3, 312)
    check_neuron_exactly(submission, w, b, X, y, what="X of shape (5, 3)", remote=True)
    X, y = np.array([[1, -2, 0], [0, 1, 3], [-1, 1, 1], [2, 0, -1]]), np.array([1, 0, -1, 0])
    check_neuron_exactly(submission, np.array([1, 0, -1]), 1, X, y,
                         what="integer w [1, 0, -1], b = 1, X and y")


def neuron_gradients(w, b, X, y):
    """dL/dw and dL/db of the tanh neuron's mean squared error, by hand."""
    t = np.tanh(X @ w + b)
    dz = 2.0 / len(y) * (t - y) * (1.0 - t ** 2)
    return X.T @ dz, float(dz.sum())


def check_neuron_exactly(submission, w, b, X, y, what, remote=False):
    """Loss and gradients at one point; with ``remote`` the arrays are the notebook's own objects
    and must read back unchanged."""
    args = [submission.remote(v) for v in (w, X, y)] if remote else [w, X, y]
    loss, dw, db = submission.neuron_loss_and_grads(args[0], b, args[1], args[2])
    dw_ref, db_ref = neuron_gradients(w.astype(float), b, X.astype(float), y.astype(float))
    assert_close(loss, neuron_loss(w.astype(float), b, X.astype(float), y.astype(float)),
                 what=f"loss for {what}")
    assert_close(dw, dw_ref, what=f"dw for {what}")
    assert_close(db, db_ref, what=f"db for {what}")
    if remote:
        for name, value, ref in zip(["w", "X", "y"], (w, X, y), args):
            assert_close(submission.fetch(ref), value,
                         what=f"the caller's {name} after neuron_loss_and_grads (must not change)")


def check_neuron_gradients(submission, w, b, X, y):
    gradient_check(lambda v: neuron_loss(v, b, X, y),
                   lambda v: np.asarray(submission.neuron_loss_and_grads(v, b, X, y)[1]),
                   w, tol=1e-6, what=f"dw for X of shape {X.shape}")
    gradient_check(lambda v: neuron_loss(w, v[0], X, y),
                   lambda v: np.array([submission.neuron_loss_and_grads(w, v[0], X, y)[2]]),
                   np.array([b]), tol=1e-6, what=f"db for X of shape {X.shape}")

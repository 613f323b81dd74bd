"""Hidden graders for assignment 07-optimizers (never shown to students).

Each optimizer is run step by step through the proxy on fresh random parameters and gradients
and compared after EVERY step with the reference update rule below (with the documented
defaults and with other hyperparameters), then run on test functions whose gradients the
grader computes itself, where it must converge.
"""

import copy

import numpy as np
import pytest

from autograder.checks import assert_close

# --- reference update rules (the formulas of the notebook) -----------------------------------


def ref_sgd(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def ref_momentum(w, dw, config=None, nesterov=False):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu, lr = config["momentum"], config["learning_rate"]
    v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    config["velocity"] = v
    return (w + mu * v - lr * dw if nesterov else w + v), config


def ref_nesterov(w, dw, config=None):
    return ref_momentum(w, dw, config, nesterov=True)


def ref_adagrad(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    config["cache"] = config.get("cache", np.zeros_like(w)) + dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), \
        config


def ref_rmsprop(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    rho = config["decay_rate"]
    config["cache"] = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), \
        config


def ref_adam(w, dw, config=None):
    config = dict(config or {})
    for key, default in [("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                         ("epsilon", 1e-8)]:
        config.setdefault(key, default)
    b1, b2 = config["beta1"], config["beta2"]
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
    config.update(m=m, v=v, t=t)
    step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + config["epsilon"])
    return w - config["learning_rate"] * step, config


def ref_decay(lr0, step, decay_rate, decay_steps, staircase=False):
    return lr0 * decay_rate ** ((step // decay_steps) if staircase else (step / decay_steps))


# --- test functions (gradients computed here, never by the notebook) --------------------------


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def rosenbrock_grad(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def ill_conditioned_quadratic(d=6, seed=0):
    """f(x) = 0.5 (x - x*)^T A (x - x*), A rotated with eigenvalues from 1 to 100."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = q @ np.diag(np.geomspace(1.0, 100.0, d)) @ q.T
    x_star = rng.normal(size=d)
    return (lambda x: 0.5 * (x - x_star) @ A @ (x - x_star)), (lambda x: A @ (x - x_star)), \
        x_star


# --- helpers -----------------------------------------------------------------------------------


def step(update, name, w, dw, config):
    result = update(w, dw, config)
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a pair (next_w, config)"
    next_w, config = result
    assert isinstance(config, dict), f"{name} must return the updated config dict"
    return next_w, config


def check_sequences(submission, name, ref, runs):
    """Run the student's optimizer and the reference on several runs (config, seed, shape,
    steps) side by side, one step of each run in turn, and compare after EVERY step. Taking
    turns shows state kept anywhere but in config (the notebook: "the graders run several
    optimizers side by side")."""
    update = getattr(submission, name)
    chains = []
    for config, seed, shape, steps, *kind in runs:
        rng = np.random.default_rng(seed)
        # "int": integer parameters, which the notebook allows (a state made like w and
        # updated in place would truncate every step)
        w0 = rng.integers(-4, 5, size=shape) if kind == ["int"] else rng.normal(size=shape)
        # gradients of very different magnitudes, so per-parameter scaling shows
        grads = rng.normal(size=(steps, *shape)) * 10.0 ** rng.uniform(-2, 1, size=shape)
        given = ("default hyperparameters" if config is None else f"config {config}") \
            + (" and an integer w" if kind == ["int"] else "")
        chains.append({"grads": grads, "given": given, "w": w0, "c": copy.deepcopy(config),
                       "w_ref": w0, "c_ref": copy.deepcopy(config)})
    side_by_side = " (run side by side with another run)" if len(runs) > 1 else ""
    for t in range(max(len(chain["grads"]) for chain in chains)):
        for chain in chains:
            if t >= len(chain["grads"]):
                continue
            g = chain["grads"][t]
            if t == 0:  # the first w is the caller's own array: it must stay as it is
                w0 = submission.remote(chain["w"])
                chain["w"], chain["c"] = step(update, name, w0, g, chain["c"])
                assert_close(submission.fetch(w0), chain["w_ref"], rtol=0, atol=0,
                             what=f"{name} with {chain['given']}: the caller's w after the "
                                  "first step (do not modify w in place: return a new array)")
            else:
                chain["w"], chain["c"] = step(update, name, chain["w"], g, chain["c"])
            chain["w_ref"], chain["c_ref"] = ref(chain["w_ref"], g, chain["c_ref"])
            assert_close(chain["w"], chain["w_ref"], rtol=1e-6, atol=1e-9,
                         what=f"{name} with {chain['given']}: w after step {t + 1} of "
                              f"{len(chain['grads'])}{side_by_side}")


def descend(submission, name, grad, x0, config, steps, half_life=None):
    """Run the student's optimizer on a grader-side gradient; returns the last x. With
    half_life, the grader halves the learning rate every half_life steps (continuously)."""
    update = getattr(submission, name)
    x, c = np.array(x0, dtype=float), dict(config)
    for t in range(steps):
        if half_life:
            c["learning_rate"] = config["learning_rate"] * 0.5 ** (t / half_life)
        x, c = step(update, name, x, grad(x), c)
    x = np.asarray(x, dtype=float)
    assert x.shape == np.shape(x0) and np.all(np.isfinite(x)), \
        f"{name} diverged or changed the shape of w (got {x.shape})"
    return x


# --- (a) SGD and momentum ----------------------------------------------------------------------


@pytest.mark.cell("test_sgd_momentum")
@pytest.mark.points(0.5)
def test_sgd_steps(submission):
    check_sequences(submission, "sgd", ref_sgd, [(None, 1, (4, 3), 3),
                                                 ({"learning_rate": 0.37}, 2, (5,), 3),
                                                 ({"learning_rate": 0.3}, 3, (5,), 2, "int")])


@pytest.mark.cell("test_sgd_momentum")
@pytest.mark.points(1)
def test_momentum_steps(submission):
    check_sequences(submission, "sgd_momentum", ref_momentum, [
        (None, 3, (4, 3), 8), ({"learning_rate": 0.05, "momentum": 0.7}, 4, (2, 2, 3), 8),
        ({"learning_rate": 0.3}, 5, (5,), 4, "int")])


@pytest.mark.cell("test_sgd_momentum")
@pytest.mark.points(0.5)
def test_momentum_converges(submission):
    f, grad, x_star = ill_conditioned_quadratic(seed=5)
    x0 = x_star + np.random.default_rng(6).normal(size=x_star.shape) * 2
    x = descend(submission, "sgd_momentum", grad, x0, {"learning_rate": 0.01, "momentum": 0.9},
                300)
    assert f(x) < 1e-9 * f(x0), (f"sgd_momentum did not converge on an ill-conditioned quadratic "
                                 f"in 300 steps: loss went from {f(x0):.3g} to {f(x):.3g}")


# --- (b) Nesterov --------------------------------------------------------------------------------


@pytest.mark.cell("test_nesterov")
@pytest.mark.points(0.5)
def test_nesterov_steps(submission):
    check_sequences(submission, "nesterov", ref_nesterov, [
        (None, 7, (4, 3), 8), ({"learning_rate": 0.05, "momentum": 0.6}, 8, (7,), 8),
        ({"learning_rate": 0.3}, 9, (5,), 4, "int")])


@pytest.mark.cell("test_nesterov")
@pytest.mark.points(0.5)
def test_nesterov_converges(submission):
    x = descend(submission, "nesterov", rosenbrock_grad, [-1.5, 2.0],
                {"learning_rate": 1e-3, "momentum": 0.9}, 2000)
    assert np.linalg.norm(x - 1.0) < 1e-2, (
        f"nesterov (learning_rate 1e-3, momentum 0.9) should reach the minimum (1, 1) of the "
        f"Rosenbrock function from (-1.5, 2) in 2000 steps; it ended at {np.round(x, 4)}")


# --- (c) AdaGrad and RMSProp --------------------------------------------------------------------


@pytest.mark.cell("test_adagrad_rmsprop")
@pytest.mark.points(0.5)
def test_adagrad_steps(submission):
    check_sequences(submission, "adagrad", ref_adagrad, [
        (None, 11, (4, 3), 8), ({"learning_rate": 0.3, "epsilon": 1e-3}, 12, (6,), 8),
        ({"learning_rate": 0.3}, 10, (5,), 4, "int")])


@pytest.mark.cell("test_adagrad_rmsprop")
@pytest.mark.points(0.5)
def test_rmsprop_steps(submission):
    check_sequences(submission, "rmsprop", ref_rmsprop, [
        (None, 13, (4, 3), 8),
        ({"learning_rate": 0.02, "decay_rate": 0.8, "epsilon": 1e-4}, 14, (3, 1, 2), 8),
        ({"learning_rate": 0.3}, 15, (5,), 4, "int")])


@pytest.mark.cell("test_adagrad_rmsprop")
@pytest.mark.points(1)
def test_adaptive_converge(submission):
    f, grad, x_star = ill_conditioned_quadratic(seed=15)
    x0 = x_star + np.random.default_rng(16).normal(size=x_star.shape) * 2
    # RMSProp only settles with a decaying learning rate: the grader halves it every 200 steps
    for name, config, half_life, factor in [("adagrad", {"learning_rate": 1.0}, None, 1e-3),
                                            ("rmsprop", {"learning_rate": 0.3}, 200, 1e-6)]:
        x = descend(submission, name, grad, x0, config, 500, half_life)
        schedule = f", halved every {half_life} steps" if half_life else ""
        assert f(x) < factor * f(x0), (f"{name} ({config}{schedule}) did not converge on an "
                                        f"ill-conditioned quadratic in 500 steps: "
                                        f"loss went from {f(x0):.3g} to {f(x):.3g}")


# --- (d) Adam ------------------------------------------------------------------------------------


@pytest.mark.cell("test_adam")
@pytest.mark.points(1)
def test_adam_steps(submission):
    check_sequences(submission, "adam", ref_adam, [
        (None, 21, (4, 3), 10),
        ({"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.75, "epsilon": 1e-3}, 22, (9,), 10),
        ({"learning_rate": 0.3}, 23, (5,), 4, "int")])


@pytest.mark.cell("test_adam")
@pytest.mark.points(0.5)
def test_adam_first_step_is_learning_rate(submission):
    rng = np.random.default_rng(23)
    w = rng.normal(size=8)
    g = rng.normal(size=8) * 10.0 ** rng.uniform(-2, 2, size=8)
    next_w, _ = step(submission.adam, "adam", w, g, {"learning_rate": 0.05})
    assert_close(np.abs(np.asarray(next_w) - w), np.full(8, 0.05), rtol=1e-5,
                 what="adam: size of the first step (with bias correction it is the learning "
                      "rate for every weight)")


@pytest.mark.cell("test_adam")
@pytest.mark.points(0.5)
def test_adam_converges(submission):
    x = descend(submission, "adam", rosenbrock_grad, [-1.5, 2.0], {"learning_rate": 0.1},
                1000)
    assert np.linalg.norm(x - 1.0) < 1e-2, (
        f"adam (learning_rate 0.1) should reach the minimum (1, 1) of the Rosenbrock function "
        f"from (-1.5, 2) in 1000 steps; it ended at {np.round(x, 4)}")


# --- (e) learning-rate decay --------------------------------------------------------------------


@pytest.mark.cell("test_lr_decay")
@pytest.mark.points(0.5)
def test_exponential_decay(submission):
    for lr0, decay_rate, decay_steps in [(0.3, 0.5, 7), (1e-3, 0.96, 100), (2.0, 0.1, 1)]:
        for t in [0, 1, 3, 7, 10, 150, 333]:
            assert_close(submission.decayed_learning_rate(lr0, t, decay_rate, decay_steps),
                         ref_decay(lr0, t, decay_rate, decay_steps), rtol=1e-9,
                         what=f"decayed_learning_rate({lr0}, {t}, {decay_rate}, {decay_steps})")


@pytest.mark.cell("test_lr_decay")
@pytest.mark.points(0.5)
def test_staircase_decay(submission):
    for lr0, decay_rate, decay_steps in [(0.3, 0.5, 7), (1e-3, 0.96, 100)]:
        for t in [0, 1, 6, 7, 8, 99, 100, 101, 333]:
            assert_close(submission.decayed_learning_rate(lr0, t, decay_rate, decay_steps,
                                                          staircase=True),
                         ref_decay(lr0, t, decay_rate, decay_steps, True), rtol=1e-9,
                         what=f"decayed_learning_rate({lr0}, {t}, {decay_rate}, {decay_steps}, "
                              f"staircase=True)")


# --- (f) minimize ---------------------------------------------------------------------------------
# The expected trajectory is built by calling the student's own update function and learning
# rate schedule step by step, so minimize is graded on the loop alone.


def expected_trajectory(submission, name, x0, config, steps, decay=(1.0, 1000, False)):
    update = getattr(submission, name)
    lr0, (decay_rate, decay_steps, staircase) = config["learning_rate"], decay
    x, c, rows = np.array(x0, dtype=float), dict(config), [np.array(x0, dtype=float)]
    for t in range(steps):
        c["learning_rate"] = submission.decayed_learning_rate(lr0, t, decay_rate, decay_steps,
                                                              staircase)
        x, c = step(update, name, x, rosenbrock_grad(x), c)
        rows.append(np.asarray(x, dtype=float))
    return np.array(rows)


@pytest.mark.cell("test_minimize")
@pytest.mark.points(0.75)
def test_minimize_constant_rate(submission):
    for name, x0, config, steps in [("sgd", [0.3, -0.4], {"learning_rate": 2e-3}, 12),
                                    ("adam", [-1.2, 1.0], {"learning_rate": 0.05}, 15)]:
        trajectory = submission.minimize(submission.rosenbrock_grad, x0, getattr(submission, name),
                                         config, steps)
        assert_close(trajectory, expected_trajectory(submission, name, x0, config, steps),
                     what=f"minimize with {name}, {config}, {steps} steps: trajectory")


@pytest.mark.cell("test_minimize")
@pytest.mark.points(0.5)
def test_minimize_leaves_config_unchanged(submission):
    # the caller's dict itself, in the notebook's process; sgd_momentum adds its velocity to
    # the dict it is given and the decay changes the learning rate after the first step
    given = {"learning_rate": 1e-3, "momentum": 0.8}
    config = submission.remote(given)
    trajectory = submission.minimize(submission.rosenbrock_grad, [-0.5, 0.8],
                                     submission.sgd_momentum, config, 4, 0.5, 1)
    # the points come with a right trajectory: a minimize that does nothing leaves config alone
    assert_close(trajectory, expected_trajectory(submission, "sgd_momentum", [-0.5, 0.8], given,
                                                 4, (0.5, 1, False)),
                 what="minimize with sgd_momentum, 4 steps, decay_rate 0.5 every step: trajectory")
    after = submission.fetch(config)
    unchanged = isinstance(after, dict) and set(after) == set(given) and all(
        np.array_equal(after[key], value) for key, value in given.items())
    assert unchanged, (f"minimize changed the caller's config: {given} became {after} "
                            "(copy the dict first)")


@pytest.mark.cell("test_minimize")
@pytest.mark.points(0.75)
def test_minimize_with_decay(submission):
    for name, x0, config, steps, decay in [
            ("sgd_momentum", [-0.5, 0.8], {"learning_rate": 1e-3, "momentum": 0.8}, 14,
             (0.5, 4, False)),
            ("rmsprop", [1.5, 1.0], {"learning_rate": 0.05}, 13, (0.3, 5, True))]:
        trajectory = submission.minimize(submission.rosenbrock_grad, x0, getattr(submission, name),
                                         config, steps, *decay)
        assert_close(trajectory, expected_trajectory(submission, name, x0, config, steps, decay),
                     what=f"minimize with {name}, {config}, {steps} steps, decay_rate, "
                          f"decay_steps, staircase = {decay}: trajectory")

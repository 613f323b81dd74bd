"""Hidden graders for assignment 13-perceptron (never shown to students).

Every case uses integers or multiples of 1/4 and learning rates that are powers of 2, so every
correct implementation (a loop, a vectorized score, an augmented weight vector, any order of
the products) computes the same scores and weights exactly: a score of exactly 0 is a real
tie, never a rounding accident, and the graders compare updates and weights exactly.
"""

from itertools import permutations

import numpy as np
import pytest

from autograder.checks import assert_array

TOL = 1e-9  # exact arithmetic (dyadic numbers): any difference is a different computation


# --- the rule, as the notebook states it ---------------------------------------------------------

def predict(w, b, X):
    return np.where(np.asarray(X, dtype=float) @ np.asarray(w, dtype=float) + b >= 0, 1, -1)


def epoch_trace(w, b, X, y, lr):
    """The state (w, b, updates) after each example of one epoch, and each example's score."""
    w, b, updates, states, scores = np.array(w, dtype=float), float(b), 0, [], []
    for x_i, y_i in zip(np.asarray(X, dtype=float), np.asarray(y)):
        score = float(x_i @ w + b)
        scores.append(score)
        if (1 if score >= 0 else -1) != y_i:
            w, b, updates = w + lr * y_i * x_i, b + lr * float(y_i), updates + 1
        states.append((w, b, updates))
    return states, scores


def epoch(w, b, X, y, lr):
    states, _ = epoch_trace(w, b, X, y, lr)
    return states[-1] if states else (np.array(w, dtype=float), float(b), 0)


def train(X, y, lr=1.0, max_epochs=100):
    w, b, history = np.zeros(np.shape(X)[1]), 0.0, []
    for _ in range(max_epochs):
        w, b, updates = epoch(w, b, X, y, lr)
        history.append(updates)
        if updates == 0:
            break
    return w, b, history


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Y = np.array([-1, 1, 1, -1])


# --- how results are compared and explained ------------------------------------------------------

def show(value, limit: int = 16) -> str:
    value = np.asarray(value)
    if value.size > limit:
        return f"(an array of shape {value.shape})"
    if value.dtype.kind == "f" and np.all(value == np.round(value * 8) / 8):
        value = np.array([f"{v:g}" for v in value.ravel()]).reshape(value.shape)
        return str(value.tolist()).replace("'", "")
    return str(value.tolist())


def listing(history: list, limit: int = 12) -> str:
    if len(history) <= limit:
        return str(history)
    return f"{str(history[:limit])[:-1]}, ...] ({len(history)} epochs)"


def scalar(value):
    """A number as the wire brings it (NumPy scalars arrive as Python numbers; a 0-d array
    stays an array), or None."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def number(value, what: str) -> float:
    found = scalar(value)
    assert found is not None, f"{what} must be a number, got {type(value).__name__}"
    return float(found)


def count(value, what: str) -> int:
    found = scalar(value)
    assert found is not None and found == int(found), f"{what} must be an int, got {value!r}"
    return int(found)


def unpack_epoch(result, d: int, call: str):
    assert isinstance(result, tuple | list) and len(result) == 3, (
        f"{call} must return a tuple (w, b, updates), got {type(result).__name__}"
        + (f" of length {len(result)}" if isinstance(result, tuple | list) else ""))
    w, b, updates = result
    assert_array(w, shape=(d,), what=f"w returned by {call}")
    assert w.dtype.kind == "f", (
        f"w returned by {call} has dtype {w.dtype}: return the weights as a new float array "
        "(an integer w given to the function must not keep its dtype: np.array(w, dtype=float))")
    return w, number(b, f"b returned by {call}"), count(updates, f"updates returned by {call}")


def same_state(got, expected) -> bool:
    (w, b, u), (w_ref, b_ref, u_ref) = got, expected
    return u == u_ref and np.allclose(w, w_ref, rtol=TOL, atol=TOL) and abs(b - b_ref) <= TOL


def state_text(state) -> str:
    w, b, updates = state
    return f"w = {show(w)}, b = {b:g}, {updates} update{'s' if updates != 1 else ''}"


def step_hint(before, after_ref, after_got, x, y, score, lr) -> str:
    """Why the student's state after one example differs from the rule's, as a question."""
    (w0, b0, u0), (w_ref, b_ref, u_ref), (w, b, u) = before, after_ref, after_got
    mistake = u_ref > u0
    moved = u > u0 or not np.allclose(w, w0, rtol=TOL, atol=TOL) or abs(b - b0) > TOL
    tie = " (a score of exactly 0 predicts +1)" if score == 0 else ""
    if not mistake and moved:
        return f"you updated on a correctly classified example?{tie}"
    if mistake and not moved:
        return f"you did not update on a misclassified example?{tie}"
    if mistake:
        dw, db, dw_ref, db_ref = w - w0, b - b0, w_ref - w0, b_ref - b0
        twice = np.allclose(dw, 2 * dw_ref) and np.isclose(db, 2 * db_ref)
        if lr != 1 and np.allclose(dw, dw_ref / lr) and np.isclose(db, db_ref / lr):
            return f"the learning rate lr = {lr:g} is not applied?" + (
                " Or the step is twice lr * y * x?" if twice else "")
        if twice:
            return ("the step is twice lr * y * x: with labels -1 and +1 the rule is "
                    "w += lr * y * x, b += lr * y (lr * (y - prediction) * x is the rule for 0/1 "
                    "labels)")
        if np.allclose(dw, dw_ref) and abs(db) <= TOL:
            return "the bias is not updated? (b += lr * y)"
        if np.allclose(dw, dw_ref) and lr != 1 and np.isclose(db, db_ref / lr):
            return f"the bias is updated without the learning rate lr = {lr:g}? (b += lr * y)"
        if np.allclose(dw, dw_ref) and np.isclose(db, db_ref):
            return "count one update per misclassified example"
        return "the update is w += lr * y * x, b += lr * y"
    return "count one update per misclassified example, none for a right one"


def explain_epoch(submission, w0, b0, X, y, lr, call: str) -> str:
    """Replays the student's epoch on the first k examples, k = 1, 2, ..., and describes the first
    example after which it departs from the rule."""
    states, scores = epoch_trace(w0, b0, X, y, lr)
    before = (np.array(w0, dtype=float), float(b0), 0)
    for k in range(1, len(y) + 1):
        try:
            got = unpack_epoch(submission.perceptron_epoch(w0, b0, X[:k], y[:k], lr=lr),
                               X.shape[1], call)
        except Exception as error:  # noqa: BLE001 - its message is the explanation
            return f"on the first {k} example(s) alone: {str(error).splitlines()[0][:300]}"
        if not same_state(got, states[k - 1]):
            order = other_order(got, w0, b0, X[:k], y[:k], lr)
            if order is not None:
                return (f"on the first {k} examples your result, {state_text(got)}, is what "
                        f"visiting them in the order {order} gives, not in their given order "
                        f"(which gives {state_text(states[k - 1])}): visit the examples in "
                        "their order, without shuffling")
            x_k, y_k = X[k - 1], int(y[k - 1])
            prediction = 1 if scores[k - 1] >= 0 else -1
            judged = ("misclassified: the rule updates" if prediction != y_k else
                      "classified right: no update")
            return (f"after example {k} of the epoch (x = {show(x_k)}, y = {y_k:+d}) the result "
                    f"should be {state_text(states[k - 1])}, yours is {state_text(got)} ("
                    f"{step_hint(before, states[k - 1], got, x_k, y_k, scores[k - 1], lr)}); "
                    f"before it the weights were w = {show(before[0])}, b = {before[1]:g}, so its "
                    f"score w.x + b = {scores[k - 1]:g} predicts {prediction:+d}: {judged}")
        before = states[k - 1]
    return ("on the examples one prefix at a time it follows the rule, but not on all of them at "
            "once: visit the examples in their given order, without shuffling or randomness")


def other_order(got, w0, b0, X, y, lr):
    """An order of the examples (1-based) other than the given one in which the rule gives
    ``got``, or None (tried for a few examples only)."""
    if len(y) > 6:
        return None
    for order in permutations(range(len(y))):
        if list(order) != sorted(order) and same_state(
                got, epoch(w0, b0, X[list(order)], y[list(order)], lr)):
            return [i + 1 for i in order]
    return None


def check_epoch(submission, w0, b0, X, y, lr, *, inputs=None):
    """perceptron_epoch(w0, b0, X, y, lr) against the rule; ``inputs`` replaces the arguments
    (proxies of arrays placed in the notebook's process)."""
    call = (f"perceptron_epoch(w = {show(w0)}, b = {b0:g}, X = {show(X)}, y = {show(y)}, "
            f"lr = {lr:g})")
    args = inputs if inputs is not None else (w0, b0, X, y)
    got = unpack_epoch(submission.perceptron_epoch(*args, lr=lr), X.shape[1], call)
    expected = epoch(w0, b0, X, y, lr)
    if not same_state(got, expected):
        raise AssertionError(f"{call}: {explain_epoch(submission, w0, b0, X, y, lr, call)}; at "
                             f"the end of the epoch it should be {state_text(expected)}, yours is "
                             f"{state_text(got)}")


def history_hint(got: list, expected: list, max_epochs: int) -> str:
    if len(got) > max_epochs:
        return f"{len(got)} epochs run: run at most max_epochs = {max_epochs} epochs"
    if len(got) == max_epochs - 1 and got == expected[:len(got)]:
        return (f"{len(got)} epochs run where max_epochs = {max_epochs} allows {max_epochs} "
                "(range(max_epochs) counts them)")
    if got == [*expected, 0] or (expected[-1:] == [0] and got[:len(expected)] == expected):
        return "stop right after the first epoch with 0 updates; do not run another one"
    if expected[-1:] == [0] and got == expected[:-1]:
        return "the epoch with 0 updates belongs in the history: append its 0, then stop"
    if len(expected) == max_epochs and len(got) != max_epochs and got == expected[:len(got)]:
        return f"without convergence run exactly max_epochs = {max_epochs} epochs"
    for k, (g, e) in enumerate(zip(got, expected), start=1):
        if g != e:
            return (f"epoch {k} should make {e} update(s), yours {g}: each epoch starts from the "
                    "weights the previous one ended with (check perceptron_epoch in part b too)")
    return "one entry per epoch run"


def check_train(submission, X, y, lr, max_epochs, *, inputs=None):
    call = (f"train_perceptron(X = {show(X)}, y = {show(y)}, lr = {lr:g}, "
            f"max_epochs = {max_epochs})")
    args = inputs if inputs is not None else (X, y)
    result = submission.train_perceptron(*args, lr=lr, max_epochs=max_epochs)
    assert isinstance(result, tuple | list) and len(result) == 3, (
        f"{call} must return a tuple (w, b, history)")
    w, b, history = result
    assert isinstance(history, list | tuple | np.ndarray) and np.ndim(history) == 1, (
        f"history returned by {call} must be a list of ints, got {type(history).__name__}")
    history = [count(h, f"each entry of the history returned by {call}")
               for h in np.asarray(history).tolist()]
    w_ref, b_ref, history_ref = train(X, y, lr, max_epochs)
    assert history == history_ref, (
        f"{call}: the history (updates per epoch) should be {listing(history_ref)}, yours is "
        f"{listing(history)} ("
        f"{history_hint(history, history_ref, max_epochs)})")
    assert_array(w, shape=(X.shape[1],), dtype_kind="f", what=f"w returned by {call}")
    b = number(b, f"b returned by {call}")
    if not (np.allclose(w, w_ref, rtol=TOL, atol=TOL) and abs(b - b_ref) <= TOL):
        hint = "the weights after the last epoch run"
        if lr != 1 and np.allclose(w * lr, w_ref) and np.isclose(b * lr, b_ref):
            hint = f"is lr = {lr:g} passed on to every epoch?"
        elif np.allclose(w, w_ref) and abs(b) <= TOL:
            hint = "the bias is never updated?"
        raise AssertionError(f"{call}: the history is right but the result should be w = "
                             f"{show(w_ref)}, b = {b_ref:g}, yours is w = {show(w)}, b = {b:g} "
                             f"({hint})")


def check_unchanged(submission, placed: dict, originals: dict, call: str):
    for name, ref in placed.items():
        now = np.asarray(submission.fetch(ref))
        assert now.shape == originals[name].shape and np.array_equal(now, originals[name]), (
            f"{call} changed the caller's {name}: it was {show(originals[name])} and is now "
            f"{show(now)} afterwards (convention 4: no in-place updates; start from "
            "np.array(w, dtype=float), a copy, and write w = w + ..., not w += ...)")


# --- (a) predict ---------------------------------------------------------------------------------

def check_predict(submission, w, b, X, *, inputs=None):
    call = f"predict(w = {show(w)}, b = {b:g}, X = {show(X)})"
    args = inputs if inputs is not None else (w, b, X)
    got = submission.predict(*args)
    expected = predict(w, b, X)
    assert_array(got, shape=expected.shape, what=call)
    got = np.asarray(got)
    if got.dtype.kind in "iufb" and np.array_equal(got, expected):
        return
    values = set(np.unique(got).tolist()) if got.dtype.kind in "iufb" else set()
    scores = np.asarray(X, dtype=float) @ np.asarray(w, dtype=float) + b
    wrong = int(np.argmax(got != expected))
    hint = ""
    if scores[wrong] == 0:
        hint = " (a score of exactly 0 predicts +1; np.sign gives 0 there)"
    elif values and values <= {0, 1}:
        hint = " (labels are -1 and +1, not 0 and 1)"
    raise AssertionError(f"{call} should be {expected.tolist()}, yours is {show(got)}: row "
                         f"{wrong} has score {scores[wrong]:g}, which predicts "
                         f"{expected[wrong]:+d}{hint}")


@pytest.mark.cell("test_predict")
@pytest.mark.points(1)
def test_predict_values(submission):
    rng = np.random.default_rng(1301)
    X = rng.integers(-12, 13, size=(15, 3)) / 4  # multiples of 1/4: exact scores
    w, b = np.array([0.75, -1.5, 0.5]), 1 / 32  # scores: multiples of 1/16 plus 1/32, never 0
    check_predict(submission, w, b, X)
    # integer inputs (the wire keeps their dtype), through proxies: left unchanged
    X_int, w_int = np.array([[3, -1], [-2, 4], [0, 5], [7, 2], [-6, -3]]), np.array([2, 1])
    placed = {"X": submission.remote(X_int), "w": submission.remote(w_int)}
    check_predict(submission, w_int, -1, X_int, inputs=(placed["w"], -1, placed["X"]))
    check_unchanged(submission, placed, {"X": X_int, "w": w_int}, "predict")
    check_predict(submission, np.array([-1.0, 0.5, 2.0]), -0.25, np.array([[1.0, 1.0, 0.5]]))


@pytest.mark.cell("test_predict")
@pytest.mark.points(1)
def test_predict_ties(submission):
    # scores exactly 0 (ties) next to positive and negative ones
    X = np.array([[2, 1], [1, 2], [3, 3], [0, 0], [-1, 1], [4, 4], [-2, -3]])
    check_predict(submission, np.array([1, -1]), 0, X)
    check_predict(submission, np.array([0.5, 0.25]), -1.0, np.array(
        [[2.0, 0.0], [1.0, 2.0], [0.0, 4.0], [1.0, 1.0], [4.0, -4.0], [-2.0, 1.0]]))
    check_predict(submission, np.zeros(2), 0.0, np.array([[1.5, -2.0], [-3.0, 0.25]]))


# --- (b) one epoch -------------------------------------------------------------------------------

@pytest.mark.cell("test_epoch")
@pytest.mark.points(1)
def test_epoch_from_zero(submission):
    # the first example is a tie that is right (+1), the second a tie that is wrong (-1),
    # later ones are right or wrong by a clear score
    X = np.array([[2, 1], [1, 3], [-1, 2], [3, -1], [0, 1], [2, 2]])
    y = np.array([1, -1, 1, -1, -1, 1])
    check_epoch(submission, np.zeros(2), 0.0, X, y, 1.0)
    rng = np.random.default_rng(1302)
    X = rng.integers(-8, 9, size=(9, 3)) / 4
    y = np.where(X @ np.array([1.0, -0.5, 0.25]) - 0.25 >= 0, 1, -1)
    check_epoch(submission, np.zeros(3), 0.0, X, y, 1.0)


@pytest.mark.cell("test_epoch")
@pytest.mark.points(1)
def test_epoch_learning_rate_and_start(submission):
    X = np.array([[1.0, 0.5], [-0.5, 1.5], [2.0, -1.0], [0.25, -0.75], [-1.5, -0.5], [1.0, 1.0]])
    y = np.array([-1, 1, 1, -1, 1, -1])
    check_epoch(submission, np.array([0.5, -1.0]), 0.25, X, y, 0.5)
    check_epoch(submission, np.array([-0.25, 0.75]), -0.5, X, y, 2.0)
    # integer start, data and labels; lr = 0.25 makes the weights fractional
    X_int = np.array([[3, 1], [1, -3], [-1, 5], [5, 3], [-3, -1]])
    y_int = np.array([-1, 1, 1, -1, -1])
    check_epoch(submission, np.array([1, -2]), 1, X_int, y_int, 0.25)


@pytest.mark.cell("test_epoch")
@pytest.mark.points(1)
def test_epoch_leaves_its_inputs_alone(submission):
    """The arrays live in the notebook's process: an in-place update would stay there."""
    X = np.array([[1.0, -0.5], [0.5, 2.0], [-1.0, 0.75], [1.5, 1.0], [-0.25, -1.0]])
    y = np.array([1, -1, 1, -1, 1])
    w0, b0 = np.array([-0.5, 1.5]), -1.0
    placed = {"w": submission.remote(w0), "X": submission.remote(X), "y": submission.remote(y)}
    check_epoch(submission, w0, b0, X, y, 0.5, inputs=(placed["w"], b0, placed["X"], placed["y"]))
    check_unchanged(submission, placed, {"w": w0, "X": X, "y": y}, "perceptron_epoch")
    # an integer w placed there: it must not be updated in place (nor cast)
    w_int = np.array([0, 1])
    placed = {"w": submission.remote(w_int)}
    check_epoch(submission, w_int, 0.0, X, y, 1.0, inputs=(placed["w"], 0.0, X, y))
    check_unchanged(submission, placed, {"w": w_int}, "perceptron_epoch")


# --- (c) training --------------------------------------------------------------------------------

SEPARABLE_X = np.array([[1, 1], [2, -1], [-1, 2], [0, -2], [3, 1], [-2, -1], [1, 3], [2, 0]])
SEPARABLE_Y = np.where(SEPARABLE_X @ np.array([1, 2]) - 2 >= 0, 1, -1)


@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_train_reproduces_the_rule(submission):
    check_train(submission, SEPARABLE_X, SEPARABLE_Y, 1.0, 100)
    rng = np.random.default_rng(1303)
    X = rng.integers(-8, 9, size=(14, 3)) / 4
    y = np.where(X @ np.array([0.5, 1.0, -1.0]) + 0.25 > 0, 1, -1)
    check_train(submission, X, y, 1.0, 100)


@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_train_stops_at_the_right_epoch(submission):
    epochs = len(train(SEPARABLE_X, SEPARABLE_Y)[2])
    for max_epochs in (epochs, epochs - 1, 1):  # converges in the last allowed one; too few
        check_train(submission, SEPARABLE_X, SEPARABLE_Y, 1.0, max_epochs)
    # all labels +1: w = 0, b = 0 already predicts +1 everywhere, one epoch without an update
    check_train(submission, SEPARABLE_X, np.ones(len(SEPARABLE_X), dtype=int), 1.0, 10)
    # not separable (one point with both labels): exactly max_epochs epochs
    check_train(submission, np.array([[1, 2], [-1, 0], [1, 2]]), np.array([1, -1, -1]), 1.0, 7)


@pytest.mark.cell("test_train")
@pytest.mark.points(1)
def test_train_learning_rate_and_inputs(submission):
    placed = {"X": submission.remote(SEPARABLE_X), "y": submission.remote(SEPARABLE_Y)}
    check_train(submission, SEPARABLE_X, SEPARABLE_Y, 0.25, 100,
                inputs=(placed["X"], placed["y"]))
    check_unchanged(submission, placed, {"X": SEPARABLE_X, "y": SEPARABLE_Y}, "train_perceptron")
    X = np.array([[0.5, 1.5], [-1.0, 0.25], [2.0, -0.5], [-0.75, -1.25], [1.0, 0.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])  # float labels
    check_train(submission, X, y, 0.5, 20)


# --- (e) XOR -------------------------------------------------------------------------------------

def check_xor(submission, max_epochs=None):
    call = "xor_history()" if max_epochs is None else f"xor_history(max_epochs={max_epochs})"
    history = (submission.xor_history() if max_epochs is None
               else submission.xor_history(max_epochs=max_epochs))
    expected = train(XOR_X, XOR_Y, 1.0, 50 if max_epochs is None else max_epochs)[2]
    assert isinstance(history, list | tuple | np.ndarray) and np.ndim(history) == 1, (
        f"{call} must return the history, a list of ints")
    got = np.asarray(history).tolist()
    if got == expected:
        return
    hint = "the points (0, 0), (0, 1), (1, 0), (1, 1) in this order, labels -1, +1, +1, -1, lr = 1"
    if len(got) != len(expected):
        hint = (f"it should have max_epochs = {len(expected)} entries, one per epoch: XOR never "
                "converges")
    raise AssertionError(f"{call} should be {listing(expected, 8)}, yours is "
                         f"{listing(got, 8)}: {hint}")


@pytest.mark.cell("test_xor")
@pytest.mark.points(1)
def test_xor_history(submission):
    check_xor(submission, 6)


@pytest.mark.cell("test_xor")
@pytest.mark.points(1)
def test_xor_never_converges(submission):
    check_xor(submission)  # the default: 50 epochs
    check_xor(submission, 23)

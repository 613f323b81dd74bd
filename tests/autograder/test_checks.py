"""``autograder.checks``: gradient_check (right gradients pass, wrong ones fail and say where),
the early stop of passes_for_seeds, and assert_no_loops cell by cell."""

import re

import numpy as np
import pytest

from autograder.cells import NotebookSource
from autograder.checks import assert_no_loops, gradient_check, passes_for_seeds, relative_error

# f(x) = sum(c * x**2): the gradient 2 c x has entries from about 1e-7 to about 10
C = np.array([[1e-7, 3e-6, 2e-5, 1.0],
              [0.5, 4e-7, 2.0, 1e-5],
              [3.0, 0.2, 6e-6, 5.0]])
X = np.random.default_rng(0).uniform(0.5, 1.5, size=C.shape) * np.sign(
    np.random.default_rng(1).normal(size=C.shape))


def f(x):
    return np.sum(C * x**2)


def grad(x):
    return 2 * C * x


def test_a_right_gradient_with_tiny_entries_passes():
    analytic = grad(X)
    assert np.abs(analytic).min() < 1e-6 and np.abs(analytic).max() > 5
    error = gradient_check(f, grad, X, tol=1e-6)
    assert 0 <= error <= 1e-8


def test_the_elementwise_measure_would_have_failed_that_gradient():
    """Why gradient_check does not use ``relative_error``: the case above is a real one."""
    h = 1e-5
    numeric = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        step = np.zeros_like(X)
        step[index] = h
        numeric[index] = (f(X + step) - f(X - step)) / (2 * h)
    assert relative_error(grad(X), numeric) > 1e-6


@pytest.mark.parametrize("wrong, name", [
    (lambda x: 4 * C * x, "twice the gradient"),
    (lambda x: C * x, "half the gradient"),
    (lambda x: -2 * C * x, "sign error"),
    (lambda x: 2 * C * x + 0.5 * np.eye(3, 4), "a term too many"),
    (lambda x: 2 * C * x + 1e-4, "off by 1e-4 everywhere"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_wrong_gradient_fails(wrong, name):
    with pytest.raises(AssertionError, match="relative error"):
        gradient_check(f, wrong, X, tol=1e-6)


def test_a_missing_term_fails():
    def g(x):
        return np.sum(C * x**2) + np.sum(x) ** 2

    with pytest.raises(AssertionError, match="relative error"):
        gradient_check(g, grad, X)  # without the 2 * sum(x) term


@pytest.mark.parametrize("index, change", [
    ((1, 2), lambda v: -v),             # a sign error in a large entry
    ((2, 0), lambda v: v * 1.01),       # one per cent off in a large entry
    ((0, 2), lambda v: -v),             # a sign error in an entry of about 4e-5
    ((2, 2), lambda v: 0.0),            # an entry of about 1e-5 left out
])
def test_a_gradient_wrong_in_one_element_fails_naming_it(index, change):
    def wrong(x):
        g = grad(x)
        g[index] = change(g[index])
        return g

    expected = grad(X)[index]
    with pytest.raises(AssertionError) as failure:
        gradient_check(f, wrong, X, what="dW")
    message = str(failure.value)
    assert message.startswith("dW: relative error ")
    assert f"at index {index}: analytic {change(expected):.6g}, numeric " in message
    numeric = float(re.search(r"numeric (\S+?)[;)]", message).group(1))
    assert numeric == pytest.approx(expected, rel=1e-4)


def test_the_error_is_relative_to_the_gradient_not_to_each_entry():
    # one entry of about 1e-5 off by 1e-12 is noise next to entries of about 10
    def nearly(x):
        g = grad(x)
        g[0, 3] += 1e-12
        g[1, 3] += 1e-12
        return g

    assert gradient_check(f, nearly, X, tol=1e-6) < 1e-10


def test_a_single_number_is_checked_relative_to_itself():
    # for one entry the measure is |a - n| / (|a| + |n|), as before
    x = np.array([0.3])
    error = gradient_check(lambda v: 1e-6 * v[0] ** 2, lambda v: np.array([2e-6 * v[0]]), x)
    assert error < 1e-6
    with pytest.raises(AssertionError, match=r"at index \(0,\): analytic 6.6e-07"):
        gradient_check(lambda v: 1e-6 * v[0] ** 2, lambda v: np.array([2.2e-6 * v[0]]), x)


def test_zero_dimensional_and_empty_inputs():
    assert gradient_check(lambda v: float(v) ** 3, lambda v: 3 * float(v) ** 2, 1.5) < 1e-8
    assert gradient_check(lambda v: 0.0, lambda v: np.zeros(0), np.zeros(0)) == 0.0


def test_a_zero_gradient_passes_and_a_nonzero_one_against_zero_fails():
    assert gradient_check(lambda v: 7.0, lambda v: np.zeros(3), np.ones(3)) == 0.0
    with pytest.raises(AssertionError, match=r"at index \(1,\)"):
        gradient_check(lambda v: 7.0, lambda v: np.array([0.0, 1e-3, 0.0]), np.ones(3))


def test_nan_in_the_gradient_fails_naming_the_element():
    def nan_at(x):
        g = grad(x)
        g[2, 1] = np.nan
        return g

    with pytest.raises(AssertionError, match=r"dW: the gradient contains NaN or infinity "
                                             r"\(at index \(2, 1\)\)"):
        gradient_check(f, nan_at, X, what="dW")


def test_a_wrong_shape_fails():
    with pytest.raises(AssertionError, match=r"dW: expected shape \(3, 4\), got \(12,\)"):
        gradient_check(f, lambda x: grad(x).reshape(-1), X, what="dW")


def test_h_and_tol_are_honoured():
    def cube(x):
        return np.sum(x**3)

    def cube_grad(x):
        return 3 * x**2

    x = np.array([1.0, -2.0, 0.5])
    assert gradient_check(cube, cube_grad, x) < 1e-8  # h = 1e-5: an error of about h**2
    with pytest.raises(AssertionError, match="exceeds 1e-06"):
        gradient_check(cube, cube_grad, x, h=1e-2)  # an error of h**2 = 1e-4 in every entry
    assert 1e-6 < gradient_check(cube, cube_grad, x, h=1e-2, tol=1e-4) < 1e-4


def test_the_callers_array_is_left_alone():
    x = X.copy()

    def clobbering_grad(v):
        g = grad(v)
        v[...] = 0.0
        return g

    gradient_check(f, clobbering_grad, x)
    assert np.array_equal(x, X)


def test_passes_for_seeds_stops_as_soon_as_the_answer_is_known():
    tried = []

    def trial(seed):
        tried.append(seed)
        return seed % 2 == 0

    assert passes_for_seeds(trial, [2, 4, 1, 6], need=2) == [True, True]
    assert tried == [2, 4]  # two passed: 1 and 6 never ran
    tried.clear()
    with pytest.raises(AssertionError, match="passed for 0 of 2 seeds tried, needs 2 of 3"):
        passes_for_seeds(trial, [1, 3, 4], need=2)
    assert tried == [1, 3]  # after two failures 2 of 3 cannot be reached
    tried.clear()
    assert passes_for_seeds(trial, [1, 2, 3, 4], need=2) == [False, True, False, True]
    assert tried == [1, 2, 3, 4]  # undecided until the last seed
    assert passes_for_seeds(trial, [1], need=0) == []  # nothing needed: nothing run


# --- assert_no_loops: each cell parsed on its own ---------------------------------------------

VECTORIZED = "def matmul(A, B):\n    return A @ B\n"
LOOPING = "def matmul(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in B.T]\n" \
          "            for r in A]\n"
BROKEN = "def pairwise(X, Y):\n    return ((X[:, None] - Y[None]) ** 2).sum(-1\n"


def notebook(*cells: str) -> NotebookSource:
    """The code cells at notebook positions 1, 3, 5, ... (markdown between them)."""
    return NotebookSource((2 * n + 1, code) for n, code in enumerate(cells))


def test_a_syntax_error_in_another_cell_does_not_fail_a_vectorized_function():
    source = notebook("import numpy as np", VECTORIZED, BROKEN)
    assert_no_loops(source, "matmul")  # the whole notebook does not parse: this failed before
    with pytest.raises(AssertionError, match=r'^matmul uses a Python loop \(cell 4 \("def matmul'
                                             r'\(A, B\):"\), line 2\)'):
        assert_no_loops(notebook("import numpy as np", LOOPING, BROKEN), "matmul")


def test_a_syntax_error_in_the_functions_cell_names_that_cell_and_line():
    with pytest.raises(AssertionError) as failure:
        assert_no_loops(notebook("import numpy as np", VECTORIZED, BROKEN), "pairwise")
    assert str(failure.value) == ('pairwise is defined in cell 6 ("def pairwise(X, Y):"), which '
                                  "does not parse (line 2: '(' was never closed); fix that cell")


def test_a_broken_redefinition_after_a_good_one_is_named_and_before_it_is_not():
    broken_matmul = "def matmul(A, B):\n    return A @@ B\n"
    with pytest.raises(AssertionError, match=r"matmul is defined in cell 6 .* \(line 2: "):
        assert_no_loops(notebook(VECTORIZED, "x = 1", broken_matmul), "matmul")
    assert_no_loops(notebook(broken_matmul, "x = 1", VECTORIZED), "matmul")


def test_a_missing_function_mentions_the_cells_that_do_not_parse():
    with pytest.raises(AssertionError, match=r"no function named 'softmax' in the notebook \(cell "
                                             r'4 \("def pairwise\(X, Y\):"\) does not parse\)'):
        assert_no_loops(notebook("import numpy as np", BROKEN, VECTORIZED), "softmax")


def test_bindings_and_helpers_are_still_followed_across_cells():
    helper = "def _rows(A, B):\n    return [r @ B for r in A]\n"
    uses = "def matmul(A, B):\n    return np.array(_rows(A, B))\n"
    with pytest.raises(AssertionError, match=r"\(cell 2 .*, line 2, in _rows\)"):
        assert_no_loops(notebook(helper, uses, BROKEN), "matmul")
    with pytest.raises(AssertionError, match=r"matmul is bound other than by one plain def "
                                             r"\(cell 4 \(\"matmul = lambda"):
        assert_no_loops(notebook(VECTORIZED, "matmul = lambda A, B: A", BROKEN), "matmul")


def test_a_plain_string_is_one_cell():
    assert_no_loops("import numpy as np\n\n" + VECTORIZED, "matmul")
    with pytest.raises(AssertionError, match=r"^matmul uses a Python loop \(line 2\)"):
        assert_no_loops(LOOPING, "matmul")
    with pytest.raises(AssertionError, match=r"matmul is defined in code that does not parse "
                                             r"\(line 4: '\(' was never closed\)$"):
        assert_no_loops(VECTORIZED + BROKEN.replace("pairwise", "matmul"), "matmul")

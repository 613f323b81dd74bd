"""``remote``/``fetch`` and the runtime loop measure through a real grading run (the engine,
the sandbox, IPython): what the pipe tests check, in the process a student's notebook gets."""

import textwrap

import nbformat
import pytest

from autograder.client import Timeouts
from autograder.engine import GradingOptions, grade_notebook

NOTEBOOK = [
    "import numpy as np",
    '''
def sgd_step(w, grad, lr):
    w -= lr * grad


def sgd_step_copy(w, grad, lr):
    return w - lr * grad


def norms(x):
    return np.sqrt(np.sum(x ** 2, axis=1))


def norms_map(x):
    return np.array(list(map(lambda row: float(np.sqrt(row @ row)), x)))
''',
]

GRADER = '''
import numpy as np
import pytest

from autograder.checks import assert_vectorized


@pytest.mark.parametrize("name", ["sgd_step", "sgd_step_copy"])
def test_updates_in_place(submission, name):
    w = submission.remote(np.array([1.0, 2.0]))
    getattr(submission, name)(w, np.array([1.0, 1.0]), lr=0.5)
    np.testing.assert_allclose(submission.fetch(w), [0.5, 1.5])


@pytest.mark.parametrize("name", ["norms", "norms_map"])
def test_vectorized(submission, name):
    function = getattr(submission, name)
    assert_vectorized(submission, lambda n: function(np.ones((n, 3))), what=name)
'''


@pytest.mark.slow
def test_in_place_and_loops_are_graded_in_the_sandbox(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK]
    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_semantics.py").write_text(textwrap.dedent(GRADER))
    options = GradingOptions(timeouts=Timeouts(notebook=60, call=20), total_seconds=120)
    result = grade_notebook(nb, graders=graders, options=options)
    assert result.notebook_error is None, result
    outcomes = {t.name: (t.outcome, t.message[:60]) for t in result.tests}
    assert outcomes["test_updates_in_place[sgd_step]"] == ("passed", "")
    assert outcomes["test_updates_in_place[sgd_step_copy]"][0] == "failed"
    assert outcomes["test_vectorized[norms]"] == ("passed", "")
    assert outcomes["test_vectorized[norms_map]"] == (
        "failed", "AssertionError: norms_map runs Python code for each element ")


def test_a_cell_tagged_not_graded_is_not_run_in_grading_but_in_check_graders(tmp_path):
    # a plot cell that calls a student's function which hangs (or raises): in grading it must not
    # sink the whole notebook; the function's own test fails, the other passes
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def good():\n    return 1\n\n\ndef bad():\n"
                                          "    raise RuntimeError('broken')"),
                nbformat.v4.new_code_cell("print('plotting'); bad()",
                                          metadata={"tags": ["not-graded"]})]
    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_tagged.py").write_text(
        "def test_good(submission):\n    assert submission.good() == 1\n")
    options = GradingOptions(timeouts=Timeouts(notebook=60, call=20), total_seconds=120)
    graded = grade_notebook(nb, graders=graders, options=options)
    assert [(t.name, t.outcome) for t in graded.tests] == [("test_good", "passed")]
    assert 1 not in graded.cells  # not run: no output, no error
    checked = grade_notebook(nb, graders=graders, options=GradingOptions(
        timeouts=options.timeouts, total_seconds=120, run_test_cells=True))
    assert checked.cells[1].error["ename"] == "RuntimeError"  # check-graders sees it raise
    assert checked.cells[1].stdout.startswith("plotting\n")

"""Objects of the student's process that a grader drops are dropped there too: a real grading
run (autograder.engine, the sandbox) whose grader makes 10,000 objects of 1 MB one after another,
under a 512 MiB memory limit, and asks the notebook how many it still keeps."""

import textwrap

import nbformat
import pytest

from autograder.client import Timeouts
from autograder.engine import GradingOptions, grade_notebook
from autograder.sandbox import SandboxLimits

NOTEBOOK = [
    "import sys",
    '''
class Blob:
    def __init__(self, n):
        self.n = n
        self.data = b"x" * 1_000_000  # written: 1 MB of the process's memory

    def size(self):
        return len(self.data)


def make_blob(n):
    return Blob(n)
''',
    '''
def kept_objects():
    """What the runner that called this keeps for the grader (its handle table)."""
    return len(sys._getframe(1).f_locals["self"].handles)
''',
]

GRADER = '''
import pytest


@pytest.mark.points(1)
def test_dropped_objects_are_released(submission):
    kept = submission.make_blob(-1)
    for n in range(10_000):
        blob = submission.make_blob(n)  # the previous one is dropped here
    assert blob.n == 9_999 and kept.size() == 1_000_000
    assert submission.kept_objects() <= 3


@pytest.mark.points(1)
def test_the_next_test_starts_clean(submission):
    assert submission.kept_objects() == 0  # the last test's objects: released on the way
'''


@pytest.mark.slow
def test_a_grader_looping_over_objects_stays_within_memory(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK]
    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_loop.py").write_text(textwrap.dedent(GRADER))
    options = GradingOptions(limits=SandboxLimits(memory_bytes=512 * 2**20),
                             timeouts=Timeouts(notebook=60, call=20), total_seconds=240)
    result = grade_notebook(nb, graders=graders, options=options)
    assert result.notebook_error is None, result
    assert [(t.name, t.outcome, t.message) for t in result.tests] == [
        ("test_dropped_objects_are_released", "passed", ""),
        ("test_the_next_test_starts_clean", "passed", ""),
    ]

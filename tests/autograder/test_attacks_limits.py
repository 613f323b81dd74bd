"""Attacks on the grading run's limits that need more than one notebook or a grader of their
own: students graded side by side, the run's time budget, and graders that keep a handle or
take their time (as graders of later assignments do).

The same checks as the corpus (attack_corpus.py): the genuine code's score, the course files
untouched, nothing left behind, the run within its limits.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
import threading
import time

import nbformat
import pytest
from attack_corpus import BLANK, FORK_BOMB, GOOD, options
from attack_harness import TRUSTED_PEAK_MB, Watch, build_notebook, grading_cgroups, make_course

from autograder.engine import INTERRUPT_GRACE
from autograder.sandbox import choose_isolation
from autograder.single import grade_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.geteuid() == 0 and choose_isolation() == "bwrap"),
                       reason="checks the whole sandbox: bubblewrap run as root"),
]


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path / "course")


def _write(folder, nb):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "numpy-basics.ipynb"
    nbformat.write(nb, path)
    return path


HOLD = "\nimport time\ntime.sleep(12)  # the bomb holds its processes while others are graded\n"


def test_fork_bombs_do_not_starve_other_students(course, tmp_path):
    """Threat 12 across students: every sandbox runs as the same uid, so a per-uid process
    limit (RLIMIT_NPROC) would let two fork bombs use up what a third student needs to start
    Python at all. Each sandbox's own cgroup caps it instead."""
    bomb = build_notebook(dict(BLANK), (("imports", FORK_BOMB + HOLD),))
    attackers = [_write(tmp_path / name, bomb) for name in ("mallory", "trudy")]
    victim = _write(tmp_path / "ada", build_notebook(GOOD))
    before = course.digest()
    results = {}

    def grade(name, path):
        results[name] = grade_file(course.source, path, options(notebook=30))

    with Watch() as watch:
        started = time.monotonic()
        threads = [threading.Thread(target=grade, args=(p.parent.name, p)) for p in attackers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until both bombs hold their processes
            held = []
            for group in grading_cgroups():
                if group.parent.name == "pids":
                    try:
                        held.append(int((group / "pids.current").read_text()))
                    except (OSError, ValueError):
                        pass
            if sum(sorted(held)[-2:]) >= 400:
                break
            time.sleep(0.2)
        grade("ada", victim)
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started

    assert results["ada"]["score"] == 10.0, results["ada"]
    assert results["mallory"]["score"] == results["trudy"]["score"] == 0.0
    assert course.digest() == before
    assert watch.leftovers() == []
    assert seconds < 90
    assert watch.trusted_peak_mb < TRUSTED_PEAK_MB


SLOW_PAIRWISE = '''
import time


def pairwise_sq_dists(X, Y):
    time.sleep(4.5)  # each call just inside the call timeout, four calls in one test
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)
'''


def test_the_time_budget_keeps_finished_tests_and_cleans_up(course, tmp_path):
    """Threat 10 against the whole run: calls that each stay under the call timeout can still
    outlast the run's budget. The run is then interrupted, not killed: the sandbox is cleaned
    up and the tests that finished keep their points (matmul_loops and matmul: 6)."""
    path = _write(tmp_path / "slow", build_notebook({**GOOD, "pairwise_sq_dists": SLOW_PAIRWISE}))
    before = course.digest()
    budget = 15.0
    with Watch() as watch:
        started = time.monotonic()
        result = grade_file(course.source, path, options(call=5, total=budget))
        seconds = time.monotonic() - started

    assert result["score"] == 6.0, result
    assert any("took longer than 15 s" in p for p in result["problems"]), result
    assert course.digest() == before
    assert watch.leftovers() == []
    assert seconds < budget + INTERRUPT_GRACE


EXTRA_GRADERS = '''
"""Graders as later assignments write them: a handle kept across calls, big arguments, a
grader that takes its time between calls."""

import time

import numpy as np
import pytest

from autograder.checks import assert_close, assert_shape


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(1)
def test_kept_handle_big_arguments(submission):
    matmul_loops = submission.matmul_loops  # like model = submission.model; model.predict(...)
    matmul_loops(np.ones((2, 2)), np.ones((2, 2)))
    big, column = np.ones((100, 100)), np.ones((100, 1))  # 200 kB on the wire: more than a pipe
    assert_close(matmul_loops(big, column), big @ column)


@pytest.mark.cell("test_matmul")
@pytest.mark.points(1)
def test_output_shape(submission):
    assert_shape(submission.matmul(np.ones((4, 3)), np.ones((3, 5))), (4, 5), "matmul")


@pytest.mark.cell("test_matmul_loops")
@pytest.mark.points(1)
def test_grader_takes_its_time(submission):
    matmul_loops = submission.matmul_loops
    A, B = np.ones((6, 7)), np.ones((7, 3))
    assert_close(matmul_loops(A, B), A @ B)
    time.sleep(8)  # computing a reference, training a baseline...
    assert_close(matmul_loops(A, B), A @ B)
'''

STOPS_READING = '''
import sys
import time

from autograder.protocol import encode, write_frame


def matmul_loops(A, B):
    """Answers this call itself, then never reads again (the process stays alive)."""
    caller = sys._getframe(1)
    runner, message = caller.f_locals["self"], caller.f_locals["message"]
    write_frame(runner.out, {"id": message["id"], "ok": encode(np.zeros((2, 2)))})
    while True:
        time.sleep(1)
'''

JUNK_WHILE_GRADER_THINKS = '''
import threading
import time

from autograder.protocol import write_frame

_flooding = []


def _flood(runner):
    junk, until = "J" * 20_000_000, time.monotonic() + 8
    while time.monotonic() < until:
        write_frame(runner.out, {"junk": junk})


def matmul_loops(A, B):
    if np.shape(A) == (6, 7) and not _flooding:  # frames nobody asked for, while the grader waits
        import sys
        _flooding.append(threading.Thread(target=_flood, args=(sys._getframe(1).f_locals["self"],),
                                          daemon=True))
        _flooding[0].start()
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.shape[1] != B.shape[0]:
        raise ValueError("incompatible shapes")
    return A @ B
'''


LYING_SHAPE = '''
class Shaped:
    """Not an array: answers the attribute reads np.shape and np.ndim make."""
    def __init__(self, shape):
        self.shape, self.ndim, self.dtype = shape, len(shape), "float64"


def matmul(A, B):
    return Shaped((np.shape(A)[0], np.shape(B)[1]))
'''


# code that reaches into the runner could fake the loop measure: every loop requirement fails
MEASURED = {"test_matmul_loops_uses_loops", "test_matmul_is_vectorized",
            "test_pairwise_is_vectorized"}


@pytest.mark.parametrize("attack, failing, message, peak_mb", [
    # (the process it leaves stuck is only replaced after a call times out: test_matmul_...
    # meets the one stuck by test_matmul_loops_uses_loops)
    (STOPS_READING, {"test_matmul_loops_matches_numpy", "test_matmul_loops_rejects_bad_shapes",
                     "test_matmul_matches_numpy", "test_kept_handle_big_arguments",
                     "test_grader_takes_its_time", *MEASURED},
     "sending a call", TRUSTED_PEAK_MB),
    # unbounded, the frames read ahead grew with the time the grader took (570 MB in 8 s)
    (JUNK_WHILE_GRADER_THINKS, MEASURED, "", 350),
    # np.shape(x) reads x.shape, which a student's object answers as it likes
    (LYING_SHAPE, {"test_matmul_matches_numpy", "test_matmul_is_vectorized", "test_output_shape"},
     "", TRUSTED_PEAK_MB),
], ids=["stops_reading_with_a_big_call_pending", "junk_frames_while_the_grader_thinks",
        "object_that_claims_a_shape"])
def test_graders_that_keep_handles_or_take_their_time(course, tmp_path, attack, failing, message,
                                                      peak_mb):
    """Threats 10, 13 and 1 through the wire: a process that stops reading must not block the
    grader's write of a large argument (the call times out instead); frames nobody asked for
    must not pile up in the grader's memory while it computes; an object that claims a shape
    is not an array of that shape."""
    (course.source / "graders" / "test_zz_extra.py").write_text(textwrap.dedent(EXTRA_GRADERS))
    cell = "matmul" if attack is LYING_SHAPE else "matmul_loops"
    path = _write(tmp_path / "student", build_notebook({**GOOD, cell: attack}))
    before = course.digest()
    with Watch() as watch:
        started = time.monotonic()
        result = grade_file(course.source, path, options(call=5))
        seconds = time.monotonic() - started

    failed = {t["name"] for t in result["tests"] if t["outcome"] != "passed"}
    assert failed == failing, result
    if message:
        (big,) = [t for t in result["tests"] if t["name"] == "test_kept_handle_big_arguments"]
        assert message in big["message"], big
    assert course.digest() == before
    assert watch.leftovers() == []
    assert seconds < 45, result
    assert watch.trusted_peak_mb < peak_mb, watch.trusted_peak_mb


def test_options_helper_matches_the_corpus_defaults():
    assert dataclasses.asdict(options())["timeouts"] == {"notebook": 20, "call": 5}

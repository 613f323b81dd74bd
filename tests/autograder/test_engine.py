"""The engine end to end: scores from hidden graders, nbgrader's gradebook and feedback,
re-grades, parallel workers, and nbgrader compatibility for plain test cells."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from small_courses import REPO

from autograder.engine import grade_notebook
from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook

SOURCE = REPO / "assignments" / "01-numpy"
GRADERS = SOURCE / "graders"


def source_nb():
    return nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)


def answered(overrides=None):
    src = source_nb()
    return answer_notebook(src, {**solution_cells(src), **(overrides or {})})


def released():
    """The student version exactly as nbgrader generates it (solutions replaced by stubs)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb, _ = ClearSolutions().preprocess(source_nb(), {})
    return ClearHiddenTests().preprocess(nb, {})[0]


def mutant(name):
    return json.loads((SOURCE / "mutants" / f"{name}.json").read_text())["cells"]


def test_reference_blank_and_partial_scores():
    full = grade_notebook(answered(), graders=GRADERS)
    assert full.score == sum(t.max_points for t in full.tests) > 0
    result = grade_notebook(released(), graders=GRADERS)
    assert result.score == 0
    assert all("NotImplementedError" in t.message for t in result.tests)
    partial = grade_notebook(answered(mutant("partial")), graders=GRADERS)
    assert 0 < partial.score < full.score
    assert result.isolation in ("bwrap", "unshare", "none")


def test_cells_run_in_order_with_outputs_recorded():
    nb = answered({"imports": "import numpy as np\nprint('hello from the notebook')"})
    result = grade_notebook(nb, graders=GRADERS)
    printed = [c.stdout for c in result.cells.values() if "hello from the notebook" in c.stdout]
    assert printed and result.notebook_error is None


def test_a_syntax_error_in_one_cell_fails_only_that_cells_checks():
    """``submission.source`` keeps the cells apart: assert_no_loops parses them one by one, so
    matmul's "no loops" check passes next to a pairwise cell that does not parse."""
    broken = "def pairwise_sq_dists(X, Y):\n    return ((X[:, None] - Y) ** 2).sum(-1\n"
    result = grade_notebook(answered({"pairwise_sq_dists": broken}), graders=GRADERS)
    tests = {t.name: t for t in result.tests}
    matmul = tests["test_matmul_is_vectorized"]  # failed before: "the notebook's code does not
    assert matmul.outcome == "passed", matmul     # parse", for every "no loops" check
    assert tests["test_pairwise_is_vectorized"].outcome == "failed"


def test_missing_graders_folder_fails_closed(tmp_path):
    empty = tmp_path / "graders"
    empty.mkdir()
    (empty / "test_broken.py").write_text("import nonexistent_module\n")
    result = grade_notebook(answered(), graders=empty)
    assert result.score == 0
    assert any("failed to load" in p for p in result.problems)


def grade_course(make_course, db_url, submissions: dict, workers=1):
    from course.collect import collect
    from course.grade import grade
    from course.inbox import receive
    from course.workspace import open_workspace

    ws = open_workspace(make_course(assignments=("01-numpy",), db_url=db_url))
    due = ws.course.due("01-numpy")
    with ws.gradebook() as gb:
        for student, nb in submissions.items():
            receive(ws, gb, student, "01-numpy",
                    {"numpy-basics.ipynb": nbformat.writes(nb).encode()},
                    received_at=due - __import__("datetime").timedelta(hours=1))
    collect(ws, "01-numpy")
    return ws, {o.student_id: o for o in grade(ws, "01-numpy", workers=workers)}


@pytest.mark.slow
def test_course_grade_writes_nbgrader_gradebook_and_safe_feedback(make_course, db_url):
    ws, outcomes = grade_course(make_course, db_url,
                                {"ada": answered(), "ben": answered(mutant("partial"))})
    assert outcomes["ada"].score == 10 and 0 < outcomes["ben"].score < 10
    with ws.gradebook() as gb:
        cells = {g.name: g.score for g in
                 gb.nb.find_submission_notebook("numpy-basics", "01-numpy", "ben").grades}
        assert sum(cells.values()) == outcomes["ben"].score
    result = ws.nbgrader_api().generate_feedback("01-numpy", "ben")
    assert result["success"], result.get("log")
    (feedback,) = (ws.root / "feedback" / "ben" / "01-numpy").glob("*.html")
    html = feedback.read_text()
    assert "test_pairwise_matches_definition" in html  # each test's name and result...
    grader_source = (GRADERS / "test_numpy_basics.py").read_text()
    for line in grader_source.splitlines():  # ...but never a line of the graders' code
        if len(line.strip()) > 25:
            assert line.strip() not in html
    released = ws.root / "release" / "01-numpy"
    assert not (released / "graders").exists() and not (released / "mutants").exists()


@pytest.mark.slow
def test_regrade_is_idempotent_and_workers_agree(make_course, tmp_path):
    from course.grade import grade
    from course.gradebook import GradingRun

    students = {"ada": answered(), "ben": answered(mutant("partial")),
                "cleo": answered(mutant("transposed_index"))}
    ws, first = grade_course(make_course, None, students, workers=2)
    second = {o.student_id: o for o in grade(ws, "01-numpy", workers=1)}
    assert {s: o.score for s, o in first.items()} == {s: o.score for s, o in second.items()}
    with ws.gradebook() as gb:
        runs = gb.session.scalars(sa.select(GradingRun)).all()
    assert sorted(r.student_id for r in runs) == ["ada", "ben", "cleo"]  # re-grade: same rows
    assert all(r.outcome == "success" for r in runs)


def test_grade_file_json_contract(tmp_path):
    path = tmp_path / "numpy-basics.ipynb"
    nbformat.write(answered(mutant("partial")), path)
    root = tmp_path / "course"
    shutil.copytree(SOURCE, root / "assignments" / "01-numpy")
    (root / "course.yml").write_text(
        "id: c\ntitle: C\ntimezone: UTC\nwithdrawal_deadline: 2030-01-01\n"
        "assignments:\n  - {id: 01-numpy, due: 2029-01-01 18:00}\n")
    done = subprocess.run([sys.executable, "-m", "commands.main", "grade-file", "01-numpy",
                           str(path), "--json", "--course", str(root)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) >= {"score", "max_score", "tests"}
    assert result["max_score"] == 10 and 0 < result["score"] < 10
    for test in result["tests"]:
        assert set(test) >= {"name", "grade_id", "points", "max_points", "outcome", "message"}
        assert test["outcome"] in ("passed", "failed", "error")
    assert sum(t["points"] for t in result["tests"]) == result["score"]
    assert not (root / "gradebook.db").exists()  # no gradebook touched


def _blank(nb):
    from nbgrader.preprocessors import ClearSolutions

    return ClearSolutions().preprocess(nb, {})[0]


@pytest.mark.slow
def test_plain_nbgrader_test_cells_grade_as_nbgrader_grades_them(tmp_path, monkeypatch):
    """nbgrader's own quickstart course: our engine and stock nbgrader agree cell by cell."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from course.gradebook.database import upgrade_database
    from course.workspace import open_workspace

    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + ":" + __import__("os").environ["PATH"])
    subprocess.run(["nbgrader", "quickstart", "qs"], cwd=tmp_path, check=True,
                   capture_output=True)
    scores = {}
    for engine in ("ours", "stock"):
        root = tmp_path / engine
        shutil.copytree(tmp_path / "qs" / "source" / "ps1", root / "assignments" / "ps1")
        (root / "course.yml").write_text(
            "id: qs\ntitle: Q\ntimezone: UTC\nwithdrawal_deadline: 2030-01-01\n"
            "assignments:\n  - {id: ps1, due: 2029-01-01 18:00}\n"
            "roster:\n  students: [{id: good}, {id: blank}]\n")
        ws = open_workspace(root)
        upgrade_database(ws.db_url)  # a new course's gradebook, as `course upgrade` makes it
        config = ws.nbgrader_config()
        if engine == "stock":
            del config.Autograde["autograde_preprocessors"]
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        assert api.generate_assignment("ps1")["success"]
        for student in ("good", "blank"):
            target = root / "submitted" / student / "ps1"
            target.mkdir(parents=True)
            for notebook in sorted((root / "assignments" / "ps1").glob("*.ipynb")):
                src = nbformat.read(notebook, as_version=4)
                nb = answer_notebook(src, solution_cells(src))
                nbformat.write(nb if student == "good" else _blank(nb), target / notebook.name)
            result = api.autograde("ps1", student)
            assert result["success"], result.get("log")
        with ws.gradebook() as gb:
            scores[engine] = {
                (student, nb.name, grade.name): grade.score
                for student in ("good", "blank")
                for nb in gb.nb.find_submission("ps1", student).notebooks
                for grade in nb.grades
            }
    assert scores["ours"] == scores["stock"]
    assert any(score > 0 for score in scores["ours"].values())
    assert any(score == 0 for score in scores["ours"].values())


FRESH_STATE_GRADER = '''
import sys

import pytest


@pytest.mark.cell("test_matmul")
def test_no_state_left_by_an_earlier_submission(submission):
    # a grader process reused between submissions would still carry this mark
    assert not hasattr(sys, "graded_before")
    sys.graded_before = True
'''


RANDOM_DRAW_GRADER = '''
import os

import numpy as np
import pytest


@pytest.mark.cell("test_matmul")
def test_draw(submission):
    with open(os.environ["DRAWS_FILE"], "a") as out:
        out.write(f"{np.random.random()!r}\\n")
'''


def test_warm_grading_children_draw_different_random_numbers(tmp_path, monkeypatch):
    """numpy's global generator is seeded where numpy.random is first imported: in each child,
    not in the warm helper every child is forked from (graders that draw test inputs without a
    seed must not see the same inputs for every submission)."""
    from autograder import engine

    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_draw.py").write_text(RANDOM_DRAW_GRADER)
    draws = tmp_path / "draws.txt"
    monkeypatch.setenv("DRAWS_FILE", str(draws))
    if engine._warm.process is not None:  # a helper started before the variable was set
        engine._warm.process.kill()
        engine._warm.process.wait()
    for _ in range(2):
        result = grade_notebook(answered(), graders=graders)
        assert [t.outcome for t in result.tests] == ["passed"], result
    first, second = draws.read_text().split()
    assert first != second


def test_course_grade_leaves_grading_imports_to_the_workers():
    """The command that grades imports nbformat and nbgrader only when it needs them: the
    workers (``course.grade_one.WORKER_MODULES``) import them while it collects, and jsonschema's
    RFC 3987 grammar (seconds of parsing, unused by notebook schemas) is never built."""
    probe = ("import sys, course.grade; print('nbformat' in sys.modules); "
             "import nbformat; nbformat.validate(nbformat.v4.new_notebook()); "
             "print('rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert done.stdout.split() == ["False", "False"]


def test_warm_grading_gives_each_submission_fresh_grader_state(tmp_path):
    """The warm helper (autograder.warm) forks a fresh child per submission: state one grading
    leaves in the grader process is gone in the next; a helper that died is started again."""
    from autograder import engine

    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_state.py").write_text(FRESH_STATE_GRADER)
    first = grade_notebook(answered(), graders=graders)
    helper = engine._warm.process.pid
    second = grade_notebook(answered(), graders=graders)
    assert [t.outcome for t in first.tests + second.tests] == ["passed", "passed"]
    assert engine._warm.process.pid == helper  # the same warm helper served both
    engine._warm.process.kill()
    engine._warm.process.wait()
    third = grade_notebook(answered(), graders=graders)
    assert [t.outcome for t in third.tests] == ["passed"]
    assert engine._warm.process.pid != helper


BLAS_THREADS = """import numpy as np
from threadpoolctl import threadpool_info
print('blas threads', sorted({pool['num_threads'] for pool in threadpool_info()
                              if pool['internal_api'] == 'openblas'}))"""


@pytest.mark.parametrize(("threads", "printed"), [(None, "blas threads [1]"),
                                                  (2, "blas threads [2]")])
def test_the_student_numpy_runs_on_the_blas_threads_it_is_given(threads, printed):
    """A grading job is one core's work beside a worker's others: numpy's OpenBLAS gets one
    thread unless the limits say more (an idle OpenBLAS thread spins on a core; a lone Celery
    worker burned 1.15 cores with it, 0.94 without)."""
    from autograder.engine import GradingOptions
    from autograder.sandbox import SandboxLimits

    limits = SandboxLimits() if threads is None else SandboxLimits(blas_threads=threads)
    result = grade_notebook(answered({"imports": BLAS_THREADS}), graders=GRADERS,
                            options=GradingOptions(limits=limits))
    assert result.notebook_error is None, result.problems
    assert [c.stdout.strip() for c in result.cells.values() if "blas threads" in c.stdout] \
        == [printed]

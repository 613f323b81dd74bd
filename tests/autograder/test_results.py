"""Outcomes are typed: nbgrader's autograde (our bridge) writes a ``GradingReport`` beside the
autograded notebook, and ``course grade`` takes its warnings and errors from that report, not
from nbgrader's log. The report is staff-only: it never reaches the feedback folder."""

import datetime as dt

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder import engine, results
from autograder.notebooks import solution_cells, with_cells
from autograder.results import GradingReport

AID = "01-numpy"
PLAIN_TEST = "test_plain"


def add_plain_test_cell(path):
    """A graded nbgrader test cell no hidden grader stands for (it runs in the student's
    process, as in nbgrader)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("assert 1 + 1 == 2", metadata={"nbgrader": {
        "grade": True, "grade_id": PLAIN_TEST, "locked": True, "points": 1,
        "schema_version": 3, "solution": False}}))
    nbformat.write(nb, path)
    return nb


def test_report_round_trip_and_refusals(tmp_path):
    result = engine.GradingResult(
        [engine.TestResult("test_a", "cell_a", 2.0, 2.0, "passed", ""),
         engine.TestResult("test_b", "cell_b", 0.0, 1.0, "failed", "wrong")],
        {}, {"plain": True}, None, "bwrap", 1.5,
        ["grader file failed to load: x", "1 test cell(s) (plain) ... not tamper-proof"])
    report = GradingReport.from_result("nb", result)
    assert report.warnings == ("1 test cell(s) (plain) ... not tamper-proof",)
    assert report.problems == ("grader file failed to load: x",)
    # the message is kept for the feedback levels (course.feedback_level_step)
    assert report.tests[1] == results.TestScore("test_b", "cell_b", 0.0, 1.0, "failed", "wrong")
    assert report.score == 2.0 and report.grading_error is None
    path = report.write(tmp_path)
    assert path.name == "nb.grading.json"
    assert GradingReport.read(tmp_path, "nb") == report
    assert GradingReport.read(tmp_path, "other") is None
    path.write_text('{"format": 1, "notebook": "nb", "warnings": "not a list"}')
    assert GradingReport.read(tmp_path, "nb") is None
    failed = engine.GradingResult([], {}, {}, "grading failed: pytest crashed", None, 0.1,
                           ["grading failed: pytest crashed"])
    assert GradingReport.from_result("nb", failed).grading_error == "grading failed: pytest crashed"


@pytest.mark.slow
def test_course_grade_reads_warnings_from_the_report(make_course, monkeypatch):
    from course.collect import collect
    from course.grade import grade
    from course.inbox import receive
    from course.workspace import open_workspace

    root = make_course(assignments=(AID,))
    (source,) = (root / "assignments" / AID).glob("*.ipynb")
    nb = add_plain_test_cell(source)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", AID, {source.name: nbformat.writes(
            with_cells(nb, solution_cells(nb))).encode()},
                received_at=ws.course.due(AID) - dt.timedelta(hours=1))
    collect(ws, AID)

    read = []
    real_read = GradingReport.read

    def spy(folder, notebook):
        report = real_read(folder, notebook)
        read.append(report)
        return report

    monkeypatch.setattr(GradingReport, "read", staticmethod(spy))
    (outcome,) = grade(ws, AID, workers=1)
    assert outcome.outcome == "success" and outcome.score == 11

    autograded = root / "autograded" / "ada" / AID
    report = real_read(autograded, source.stem)
    assert read == [report]  # what course grade read is the file nbgrader's run left
    (warning,) = report.warnings
    assert "not tamper-proof" in warning and PLAIN_TEST in warning
    assert outcome.warnings == (warning,)
    assert report.legacy_cells == {PLAIN_TEST: True} and report.grading_error is None
    assert report.score == 10 and len(report.tests) > 0

    result = ws.nbgrader_api().generate_feedback(AID, "ada")
    assert result["success"], result.get("log")
    feedback = root / "feedback" / "ada" / AID
    assert list(feedback.glob("*.html"))
    assert not list(feedback.rglob("*.grading.json"))  # staff-only: never beside the feedback


def test_read_all_gives_every_report_in_a_folder_by_notebook_and_skips_what_is_not_one(
        tmp_path):
    for name in ("zeta", "alpha"):
        GradingReport(name, (results.TestScore("t", "c", 1.0, 1.0, "passed"),)).write(tmp_path)
    (tmp_path / "broken.grading.json").write_text("{not json")
    (tmp_path / "alpha.ipynb").write_text("{}")
    assert [r.notebook for r in GradingReport.read_all(tmp_path)] == ["alpha", "zeta"]
    assert GradingReport.read_all(tmp_path / "missing") == []

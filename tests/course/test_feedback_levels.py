"""Feedback levels (the course file's ``feedback: {show, when}``, a grader's
``@pytest.mark.feedback``): what a student sees of a failed hidden test and when, through the
real path: the sandboxed engine under nbgrader's autograde, nbgrader's generate_feedback under
the course's config, ``course feedback`` and the exchange's feedback route. The default keeps the
page as it was; no level shows a hidden test's source or the values in it. "now" is injected.
"""

import datetime as dt
import re

import nbformat
import pytest
from exchange_requests import request
from hidden_tests_course import AID, NOTEBOOK, secret_lines, with_answer
from nbgrader.api import Gradebook as NbGradebook
from test_feedback import HOUR, feedback_route, hidden_course, html_text

from autograder import results
from autograder.feedback_text import LEVELS, level_of, result_line
from commands.main import main
from course import calendar
from course.collect import collect
from course.coursefile import check_course_text
from course.feedback import return_feedback
from course.feedback_levels import DEFAULT, FeedbackRule, feedback_rule
from course.gradebook.records import grant_extension
from course.inbox import receive
from course.release import release
from course.workspace import open_workspace

RELEASED_AT = dt.datetime(2026, 10, 13, 12, tzinfo=dt.UTC)  # injected: no wall clock

# graders/test_more.py, beside the fixture's test_squares.py: a held-out input and the value
# expected for it sit in the source (and the second line of a message); one test hides itself
MORE = """\
import pytest

SECRET_INPUT = 31415


@pytest.mark.cell("test_square_big")
@pytest.mark.points(1)
def test_a_held_out_input(submission):
    got = submission.square(SECRET_INPUT)
    assert got == 986902225, f"held-out input squared wrongly\\nexpected 986902225, got {got}"


@pytest.mark.cell("test_square_big")
@pytest.mark.points(1)
def test_close_to_the_held_out_value(submission):
    import numpy as np

    np.testing.assert_allclose(float(submission.square(SECRET_INPUT)), 986902225.0)


@pytest.mark.cell("test_square_big")
@pytest.mark.points(1)
@pytest.mark.feedback("nothing")
def test_quietly(submission):
    assert submission.square(3) == 9 and submission.square(-3) == 9, "square(3) or square(-3)"
"""
# only in the graders' source and the lines of messages after the first (numpy's DESIRED)
EXPECTED = ["986902225", "31415", "9.869022e+08"]
WRONG = "return x + x"  # square(2) is 4: every hidden test fails
RAISES = "return x * x if abs(x) < 1000 else x.no_such_attribute"  # large inputs raise
BIG = "test_square_of_a_large_number"  # the fixture's grader, "square(10**6) should be 10**12"


def grader_lines() -> list[str]:
    lines = [line.strip() for line in MORE.splitlines()]
    return [*secret_lines(), *(line for line in lines if len(line) > 12)]


def with_feedback(text: str, policy: str | None = None, assignment: str | None = None) -> str:
    if policy:
        text = text.replace("assignments:\n", f"policy:\n  feedback: {policy}\nassignments:\n")
    if assignment:
        text = text.replace("due: ", f"feedback: {assignment}, due: ", 1)
    return text


def set_feedback(ws, policy: str | None = None, assignment: str | None = None):
    """The course file rewritten with these feedback settings; the workspace opened again."""
    text = re.sub(r"policy:\n  feedback: .*\n", "", ws.course_file.read_text())
    text = re.sub(r"feedback: \{[^}]*\}, ", "", text)
    ws.course_file.write_text(with_feedback(text, policy, assignment))
    return open_workspace(ws.course_file)


def with_written_answer(notebook):
    """A written answer in the cell graded by hand (one left as released needs no grading)."""
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "why":
            cell.source = "Because (-x) times (-x) is x times x."
    return notebook


def graded(make_course, answers: dict[str, str], *, more: bool = True):
    """The fixture course (with MORE beside its grader), released; each student's body of
    ``square`` and a written answer handed in, collected and autograded through nbgrader's
    API."""
    ws, source, _ = hidden_course(make_course)
    if more:
        (ws.source / AID / "graders" / "test_more.py").write_text(MORE)
    released = nbformat.reads((release(ws, AID, now=RELEASED_AT) / NOTEBOOK).read_text(),
                              as_version=4)
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        for student, body in answers.items():
            content = nbformat.writes(with_written_answer(with_answer(released, body))).encode()
            receive(ws, gb, student, AID, {NOTEBOOK: content}, received_at=due - HOUR)
    collect(ws, AID)
    api = ws.nbgrader_api()
    for student in answers:
        outcome = api.autograde(AID, student, force=True)
        assert outcome["success"], outcome["log"]
    return ws, source


def page_html(ws, student: str, config=None) -> str:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = config or ws.nbgrader_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    outcome = api.generate_feedback(AID, student, force=True)
    assert outcome["success"], outcome["log"]
    return (ws.root / "feedback" / student / AID / "squares.html").read_text()


def page(ws, student: str) -> str:
    """The student's feedback page as text, checked to hold no hidden test's line or value."""
    text = html_text(page_html(ws, student))
    assert [line for line in grader_lines() if line in text] == []
    assert [value for value in EXPECTED if value in text] == []
    assert "BEGIN HIDDEN TESTS" not in text and "SECRET_INPUT" not in text
    return text


# -- the course file -----------------------------------------------------------------------

COURSE = """\
id: c
title: T
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
policy:
  feedback: {show: name, when: after_hand_grading}
assignments:
  - {id: a1, due: 2026-11-01 18:00, feedback: {when: after_deadline}}
  - {id: a2, due: 2026-11-08 18:00}
  - id: a3
    due: 2026-11-15 18:00
    feedback:
      show: traceback
"""


def test_each_key_resolves_on_its_own_assignment_course_default():
    course = check_course_text(COURSE).course
    assert feedback_rule(course, "a1") == FeedbackRule("name", "after_deadline")
    assert feedback_rule(course, "a2") == FeedbackRule("name", "after_hand_grading")
    assert feedback_rule(course, "a3") == FeedbackRule("traceback", "after_hand_grading")
    plain = check_course_text(re.sub(r"policy:\n.*\n", "", COURSE)).course
    assert feedback_rule(plain, "a2") == DEFAULT == FeedbackRule("message", "at_once")


def test_course_validate_names_a_bad_level_or_timing_at_its_line(tmp_path, capsys):
    course_file = tmp_path / "course.yml"
    course_file.write_text(COURSE.replace("show: traceback", "show: everything")
                           .replace("when: after_deadline", "when: later")
                           .replace("{show: name,", "{show: name, shown: all,"))
    assert main(["validate", "--course", str(course_file)]) == 2
    err = capsys.readouterr().err
    assert f"{course_file}:6: policy.feedback.shown: unknown key; did you mean 'show'?" in err
    assert (f"{course_file}:8: assignments[0].feedback.when: Input should be 'at_once', "
            "'after_deadline' or 'after_hand_grading' (got 'later')") in err
    assert (f"{course_file}:13: assignments[2].feedback.show: Input should be 'nothing', "
            "'name', 'message' or 'traceback' (got 'everything')") in err


def test_a_tests_line_at_each_level_and_a_mistyped_level_shows_least():
    failed = results.TestScore("test_x", "c", 0.0, 2.0, "failed", "AssertionError: off by one",
                       "in the hidden test test_x (its lines are not shown)")
    passed = results.TestScore("test_y", "c", 1.0, 1.0, "passed")
    assert [result_line(failed, level) for level in LEVELS] == [
        "FAILED a hidden test (0/2)",
        "FAILED test_x (0/2)",
        "FAILED test_x (0/2): AssertionError: off by one",
        ("FAILED test_x (0/2): AssertionError: off by one\n"
         "    in the hidden test test_x (its lines are not shown)")]
    # a passed test's name would name the failed ones by elimination: none at nothing
    assert [result_line(passed, level) for level in LEVELS] == [
        "PASSED a hidden test (1/1)", *["PASSED test_y (1/1)"] * 3]
    assert [level_of(v) for v in ("traceback", "Traceback", "all", None, 3)] == [
        "traceback", "nothing", "nothing", "nothing", "nothing"]


# -- the pages -----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_default_page_is_what_it_was_before_levels(make_course):
    from course.feedback_level_step import ShowFeedbackLevels

    ws, _ = graded(make_course, {"ada": WRONG, "ben": RAISES}, more=False)
    for student in ("ada", "ben"):
        config = ws.nbgrader_config()
        assert ShowFeedbackLevels in config.GenerateFeedback.preprocessors
        config.GenerateFeedback.preprocessors = [
            step for step in config.GenerateFeedback.preprocessors
            if step is not ShowFeedbackLevels]
        before = page_html(ws, student, config)  # the pipeline as it was, without the step
        assert page_html(ws, student) == before
        explicit = set_feedback(ws, "{show: message, when: at_once}")
        assert page_html(explicit, student) == before
        # and a level that is not the default does change it: the comparison can fail
        assert page_html(set_feedback(ws, "{show: name}"), student) != before
        ws = set_feedback(ws)
    text = page(ws, "ben")
    assert (f"FAILED {BIG} (0/2): the notebook raised AttributeError: 'int' object has no "
            "attribute 'no_such_attribute'") in text
    assert "in your notebook:" not in text  # a traceback only at its level


@pytest.mark.slow
def test_each_level_on_the_real_feedback_page(make_course):
    ws, _ = graded(make_course, {"ada": WRONG, "ben": RAISES})
    pages = {}
    for level in LEVELS:
        ws = set_feedback(ws, assignment=f"{{show: {level}}}")
        pages[level] = {student: page(ws, student) for student in ("ada", "ben")}

    ada = pages["nothing"]["ada"]
    assert sorted(re.findall(r"FAILED a hidden test \((\d+)/(\d+)\)", ada)) == [
        ("0", "1"), ("0", "1"), ("0", "1"), ("0", "2")]
    assert "test_a_held_out_input" not in ada and BIG not in ada
    assert "FAILED: a test in this cell" in ada  # the hidden region's cell
    assert "held-out case" not in ada and "AssertionError" not in ada
    assert "PASSED a hidden test (1/1)" in pages["nothing"]["ben"]  # square(3) is right

    ada = pages["name"]["ada"]
    assert f"FAILED {BIG} (0/2)\n" in ada and "FAILED test_a_held_out_input (0/1)\n" in ada
    assert "FAILED a hidden test (0/1)" in ada  # test_quietly's own marker wins
    assert "FAILED: the tests of test_square" in ada
    assert "should be 10**12" not in ada and "held-out case" not in ada

    ada = pages["message"]["ada"]
    assert f"FAILED {BIG} (0/2): AssertionError: square(10**6) should be 10**12" in ada
    assert "held-out input squared wrongly" in ada
    assert "expected" not in ada  # a message's first line only, as before levels
    assert "AssertionError: held-out case: a negative number" in ada
    assert "FAILED a hidden test (0/1)" in ada

    ben = pages["traceback"]["ben"]
    assert (f"FAILED {BIG} (0/2): the notebook raised AttributeError: 'int' object has no "
            "attribute 'no_such_attribute'") in ben
    # where it failed: the hidden test by name, its lines never; the student's own code in full
    assert f"in the hidden test {BIG} (its lines are not shown)" in ben
    assert "in your notebook:" in ben
    own = ben.split("in your notebook:")[1]
    assert "return x * x if abs(x) < 1000 else x.no_such_attribute" in own
    assert "AttributeError: 'int' object has no attribute 'no_such_attribute'" in own
    assert "student_runner" not in ben  # the platform's frames there are left out
    assert "submission.square" not in ben and "assert " not in ben.replace(
        "assert square(2) == 4", "")  # the visible test is the notebook's own
    assert "FAILED a hidden test (0/1)" not in ben and "PASSED a hidden test (1/1)" in ben
    ada = pages["traceback"]["ada"]
    assert "in the hidden test test_a_held_out_input (its lines are not shown)" in ada
    assert "in your notebook:" not in ada  # nothing of hers raised: only the test's name
    # numpy's message has the expected value on its later lines: they never show
    close = ada.split("FAILED test_close_to_the_held_out_value (0/1): ")[1].split("FAILED")[0]
    assert close.startswith("AssertionError:")
    assert "in the hidden test test_close_to_the_held_out_value (its lines" in close
    assert "in assert_allclose (" in close  # a library's frame: its name, not its lines


# -- when ----------------------------------------------------------------------------------

def listed_feedback(ws, user: str, student: str | None = None) -> list[dict]:
    """The feedback MD5s of each submission the exchange lists to ``user`` (``nbgrader
    list``'s source)."""
    code, reply = request(ws.course_file, user, "GET",
                          f"submissions?student_id={student or user}")
    assert code == 200, reply
    return [row["feedback"] for row in reply["submissions"]]


@pytest.mark.slow
def test_after_the_deadline_course_feedback_holds_and_the_exchange_gives_none(
        make_course, monkeypatch, capsys):
    ws, _ = graded(make_course, {"ada": WRONG, "ben": WRONG})
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        grant_extension(gb, "ben", AID, due + 24 * HOUR, "ill", by="ina")
        gb.commit()
    ws = set_feedback(ws, "{when: after_deadline}")

    result = return_feedback(ws, AID, now=due - HOUR)
    assert result.returned == [] and set(result.held) == {"ada", "ben"}
    assert result.held["ada"].startswith("feedback opens after the deadline, ")
    assert feedback_route(ws.course_file, "ada") == []

    monkeypatch.setattr(calendar, "utcnow", lambda: due + HOUR)  # what the CLI reads once
    assert main(["feedback", AID, "--course", str(ws.root)]) == 0
    out = capsys.readouterr().out
    assert "ada: returned: squares.html" in out
    assert re.search(r"ben: held: feedback opens after the deadline, .*; run course feedback "
                     r"again then", out)  # his extension runs a day longer
    assert out.rstrip().endswith("1 returned, 0 unchanged, 0 not generated, 1 not graded, "
                                 "1 held")

    # the exchange's route asks at each request: before the deadline ada gets none, even of
    # feedback returned (as the formgrader's button returns it, past course feedback's hold)
    import exchange.handlers

    monkeypatch.setattr(exchange.handlers, "utcnow", lambda: due - HOUR)
    assert feedback_route(ws.course_file, "ada") == []
    assert listed_feedback(ws, "ada") == [{}]  # her submissions: none listed either
    (item,) = feedback_route(ws.course_file, "ina")  # staff see it
    assert item["student_id"] == "ada"
    assert listed_feedback(ws, "ina", "ada") == [{"squares.html": item["feedback"]["squares.html"]}]
    monkeypatch.setattr(exchange.handlers, "utcnow", lambda: due + HOUR)
    (item,) = feedback_route(ws.course_file, "ada")
    assert item["student_id"] == "ada"
    assert listed_feedback(ws, "ada") == [item["feedback"]]
    assert feedback_route(ws.course_file, "ben") == []


@pytest.mark.slow
def test_after_hand_grading_feedback_waits_for_the_written_answer(make_course):
    ws, _ = graded(make_course, {"ada": WRONG})
    ws = set_feedback(ws, assignment="{when: after_hand_grading}")
    due = ws.course.due(AID)
    result = return_feedback(ws, AID, students=["ada"], now=due + HOUR)
    assert result.held == {"ada": "feedback opens once grading by hand is done"}
    assert feedback_route(ws.course_file, "ada") == []

    with NbGradebook(ws.db_url, course_id=ws.course.id) as nbgb:  # the formgrader's save
        grade = nbgb.find_grade("why", "squares", AID, "ada")
        assert grade.needs_manual_grade
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        nbgb.db.commit()
    result = return_feedback(ws, AID, students=["ada"], now=due - 48 * HOUR)  # before: fine
    assert [r.student_id for r in result.returned] == ["ada"] and result.held == {}
    (item,) = feedback_route(ws.course_file, "ada")
    assert item["student_id"] == "ada"


# -- what the student's process sends back --------------------------------------------------

def test_a_traceback_quoting_a_hidden_region_loses_those_lines(tmp_path):
    """Cells without graders run in the student's process with their hidden regions: code
    there can read them and put them into the traceback it sends. Those lines are dropped."""
    from nbformat.v4 import new_code_cell, new_notebook

    from autograder.results import GradingReport
    from course.feedback_level_step import ShowFeedbackLevels

    hidden = "assert square(-7) == 49, 'held-out case: a negative number'"
    region = new_code_cell(f"### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS",
                           metadata={"nbgrader": {"grade": True, "solution": False,
                                                  "grade_id": "test_square", "points": 1}})
    graded = new_code_cell("# graded by a hidden grader", metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "test_big", "points": 1}})
    leaked = f"in your notebook:\n  File \"<cell>\", line 2, in square\n    {hidden}\nValueError: x"
    report = GradingReport("squares", (results.TestScore(
        "test_big", "test_big", 0.0, 1.0, "failed", "the notebook raised ValueError: x", leaked),))
    folder = tmp_path / "autograded" / "ada" / AID
    folder.mkdir(parents=True)
    report.write(folder)
    nb = new_notebook(cells=[region, graded])
    step = ShowFeedbackLevels(course_root=str(tmp_path), levels={AID: "traceback"})
    nb, _ = step.preprocess(nb, {"nbgrader": {"assignment": AID, "student": "ada",
                                              "notebook": "squares"}})
    (text,) = [o["text"] for o in nb.cells[1].outputs]
    assert text.startswith("FAILED test_big (0/1): the notebook raised ValueError: x\n")
    assert 'File "<cell>", line 2, in square' in text and "ValueError: x" in text
    assert "square(-7)" not in text and "held-out case" not in text


def test_a_report_written_before_levels_still_reads():
    from autograder.results import GradingReport

    old = ('{"format": 1, "notebook": "nb", "tests": [{"name": "t", "grade_id": "c", '
           '"points": 0.0, "max_points": 1.0, "outcome": "failed"}], "warnings": [], '
           '"problems": [], "notebook_error": null, "grading_error": null, "isolation": "bwrap",'
           ' "legacy_cells": {}}')
    (test,) = GradingReport.from_json(old).tests
    assert (test.message, test.traceback, test.feedback) == ("", "", None)


def test_without_a_grading_report_no_graders_line_shows_below_message(tmp_path):
    """A notebook autograded without our report (not by this platform's engine): at nothing
    and name the graders' lines, which hold names and messages, are not shown at all."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from course.feedback_level_step import NOT_SHOWN, ShowFeedbackLevels

    def notebook():
        cell = new_code_cell("# graded by a hidden grader", metadata={"nbgrader": {
            "grade": True, "solution": False, "grade_id": "test_big", "points": 2}})
        cell.outputs = [new_output("stream", name="stdout",
                                   text="FAILED test_big (0/2): AssertionError: wrong\n")]
        return new_notebook(cells=[cell])

    resources = {"nbgrader": {"assignment": AID, "student": "ada", "notebook": "squares"}}
    for level, shown in [("nothing", NOT_SHOWN + "\n"), ("name", NOT_SHOWN + "\n"),
                         ("message", "FAILED test_big (0/2): AssertionError: wrong\n")]:
        step = ShowFeedbackLevels(course_root=str(tmp_path), levels={AID: level})
        nb, _ = step.preprocess(notebook(), resources)
        assert [o["text"] for o in nb.cells[0].outputs] == [shown]


def test_the_level_is_read_from_the_course_file_at_each_page(make_course):
    """The formgrader merges the course's nbgrader config once, at start-up: the step it
    configures reads the assignment's level from the course file at each page, so a level
    lowered later applies at once (and a course file that does not load shows nothing)."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from small_courses import BASE_COURSE

    from course.feedback_level_step import ShowFeedbackLevels

    aid = "01-numpy"
    root = make_course(BASE_COURSE, gradebook=False)
    folder = root / "autograded" / "ada" / aid
    folder.mkdir(parents=True)
    results.GradingReport("squares", (results.TestScore(
        "test_big", "test_big", 0.0, 2.0, "failed", "AssertionError: wrong"),)).write(folder)
    config = open_workspace(root).nbgrader_config()  # once, as the formgrader does
    step = ShowFeedbackLevels(config=config)
    resources = {"nbgrader": {"assignment": aid, "student": "ada", "notebook": "squares"}}

    def page() -> str:
        cell = new_code_cell("# graded by a hidden grader", metadata={"nbgrader": {
            "grade": True, "solution": False, "grade_id": "test_big", "points": 2}})
        cell.outputs = [new_output("stream", name="stdout",
                                   text="FAILED test_big (0/2): AssertionError: wrong\n")]
        nb, _ = step.preprocess(new_notebook(cells=[cell]), resources)
        return "".join(o["text"] for o in nb.cells[0].outputs)

    assert page() == "FAILED test_big (0/2): AssertionError: wrong\n"  # message, the default
    course_file = root / "course.yml"
    text = course_file.read_text()
    lowered = text.replace("policy: {excused_misses: 1}",
                           "policy: {excused_misses: 1, feedback: {show: nothing}}")
    assert lowered != text
    course_file.write_text(lowered)
    assert page() == "FAILED a hidden test (0/2)\n"
    course_file.write_text(lowered.replace("feedback: {show: nothing}", "feedback: {show: name}"))
    assert page() == "FAILED test_big (0/2)\n"
    course_file.write_text("policy: [half an edit\n")
    assert page() == "FAILED a hidden test (0/2)\n"  # fails closed while it does not load

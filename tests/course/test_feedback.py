"""course feedback: nbgrader's feedback on graded submissions, hidden tests left out, returned
through the exchange where the service's feedback route (and so nbgrader fetch_feedback) finds it.
"""

import datetime as dt
import html
import re
from pathlib import Path

import nbformat
import pytest
from exchange_requests import request
from hidden_tests_course import (
    AID,
    HIDDEN,
    NOTEBOOK,
    course_text,
    secret_lines,
    with_answer,
    write_course,
)
from nbgrader.api import Gradebook

from commands.main import main
from course.collect import collect
from course.feedback import strip_hidden_tests
from course.grade import grade
from course.grade_one import ENGINE
from course.gradebook.records import finish_run, start_run
from course.inbox import receive
from course.release import generate
from course.workspace import open_workspace
from exchange import wire

HOUR = dt.timedelta(hours=1)
TODAY = dt.date(2026, 10, 13)
REPO = Path(__file__).resolve().parent.parent.parent


def test_hidden_regions_become_one_line_at_their_indentation():
    source = (
        "assert f(1) == 2\n"
        "### BEGIN HIDDEN TESTS\n"
        "assert f(2) == 4\n"
        "assert f(3) == 6\n"
        "### END HIDDEN TESTS\n"
        "def check():\n"
        "    ### BEGIN HIDDEN TESTS\n"
        "    assert secret()\n"
        "    ### END HIDDEN TESTS\n"
        "    return True"
    )
    stripped, hidden = strip_hidden_tests(source)
    assert hidden == 3
    assert stripped.split("\n") == [
        "assert f(1) == 2",
        "# hidden tests: 2 lines not shown",
        "def check():",
        "    # hidden tests: 1 line not shown",
        "    return True",
    ]
    # a region never closed is hidden to the end rather than shown
    stripped, hidden = strip_hidden_tests("ok()\n### BEGIN HIDDEN TESTS\nsecret()\nmore()")
    assert (stripped, hidden) == ("ok()\n# hidden tests: 2 lines not shown", 2)
    # markdown gets an emphasized line, not a heading
    stripped, _ = strip_hidden_tests("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS",
                                     markdown=True)
    assert stripped == "a\n*hidden tests: 1 line not shown*"
    assert strip_hidden_tests("no regions\nhere") == ("no regions\nhere", 0)


def test_a_cell_with_hidden_tests_loses_its_traceback_not_its_error():
    from nbformat.v4 import new_code_cell, new_output

    from course.feedback import HideHiddenTests

    cell = new_code_cell("check()\n### BEGIN HIDDEN TESTS\nassert secret_case()\n"
                         "### END HIDDEN TESTS")
    cell.outputs = [
        # a traceback printed as text (with colour codes), as the grading engine writes it
        new_output("stream", name="stdout", text="Traceback (most recent call last)\n"
                   "\x1b[32m----> 3\x1b[39m \x1b[38;5;28massert\x1b[39m secret_case()\n"
                   "      2 ### BEGIN HIDDEN TESTS\nAssertionError: case 3\n"),
        new_output("error", ename="AssertionError", evalue="case 3",
                   traceback=["----> 3 assert secret_case()"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert cell.source == "check()\n# hidden tests: 1 line not shown"
    assert cell.outputs[0]["text"] == "Traceback (most recent call last)\nAssertionError: case 3\n"
    assert cell.outputs[1]["traceback"] == ["AssertionError: case 3"]


def hidden_lines(notebook) -> list[str]:
    """The lines inside hidden-test regions that occur nowhere else in the notebook."""
    hidden, visible, inside = [], set(), False
    for cell in notebook.cells:
        for line in cell.source.splitlines():
            text = line.strip()
            if "BEGIN HIDDEN TESTS" in text:
                inside = True
            elif "END HIDDEN TESTS" in text:
                inside = False
            elif text:
                (hidden.append(text) if inside else visible.add(text))
    # lines such as "pass" or "else:" also occur outside the regions: they prove nothing
    return [line for line in hidden if line not in visible]


def html_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def feedback_route(course_file, user: str) -> list[dict]:
    """GET api/courses/C/feedback on the real exchange service, as ``user``."""
    code, reply = request(course_file, user, "GET", "feedback")
    assert code == 200, reply
    return reply["feedback"]


def hidden_course(make_course, db_url=None):
    """The fixture course (hidden tests kept in its notebook), its student version generated."""
    root = make_course(course_text(TODAY), db_url=db_url)
    write_course(root, TODAY)
    ws = open_workspace(root)
    released = nbformat.read(generate(ws, AID) / NOTEBOOK, as_version=4)
    source = nbformat.read(ws.source / AID / NOTEBOOK, as_version=4)
    return ws, source, released


def assert_no_hidden_test(page: str, source) -> str:
    """The feedback page's text, after checking that no hidden-test line is in it."""
    text = html_text(page)
    hidden = hidden_lines(source)
    assert sorted(hidden) == sorted(HIDDEN)
    assert [line for line in secret_lines() if line in text] == []
    assert "BEGIN HIDDEN TESTS" not in text
    return text


@pytest.mark.slow
def test_feedback_is_returned_through_the_exchange_without_hidden_tests(make_course, db_url,
                                                                        capsys):
    ws, source, released = hidden_course(make_course, db_url)
    root = ws.root
    wrong = nbformat.writes(with_answer(released, "return x + x")).encode()  # square(2) is 4
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        ada = receive(ws, gb, "ada", AID, {NOTEBOOK: wrong}, received_at=due - HOUR)
        ben = receive(ws, gb, "ben", AID, {NOTEBOOK: wrong}, received_at=due - HOUR)
    collect(ws, AID)
    (outcome,) = grade(ws, AID, students=["ada"])
    assert outcome.outcome == "success"
    with ws.gradebook() as gb:
        # ben's grading broke down (as a crashed worker's does)
        finish_run(gb, start_run(gb, "ben", AID, ben.id, ENGINE, "v1"), "error",
                   "grading crashed: worker died")
        # cleo hands in after the grading: not collected, not graded
        receive(ws, gb, "cleo", AID, {NOTEBOOK: wrong}, received_at=due - HOUR)

    assert main(["feedback", AID, "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"ada: returned: squares.html (submission {ada.id})" in out
    assert "ben: no feedback: grading failed: grading crashed: worker died" in out
    assert "cleo: not graded: handed in but not collected yet" in out
    assert "1 returned, 0 unchanged, 1 not generated, 1 not graded" in out

    # what the service's feedback route gives ada: her graded submission's feedback
    (item,) = feedback_route(ws.course_file, "ada")
    assert (item["student_id"], item["receipt_id"]) == ("ada", ada.id)
    page = wire.decode_files(item["files"])["squares.html"].decode()
    text = assert_no_hidden_test(page, source)
    assert "assert square(2) == 4" in text  # visible tests stay
    assert re.findall(r"hidden tests: (\d+) lines not shown", text) == ["3"]
    # the failed hidden test's message is shown, not its line
    assert "AssertionError: held-out case: a negative number" in text
    # the autograded notebook itself keeps its hidden tests (formgrader shows them to staff)
    autograded = (root / "autograded" / "ada" / AID / NOTEBOOK).read_text()
    assert "BEGIN HIDDEN TESTS" in autograded and "square(0.5) == 0.25" in autograded
    assert feedback_route(ws.course_file, "ben") == []  # nothing for ben, and not ada's

    # again: the same feedback is not stored twice; one student at a time
    assert main(["feedback", AID, "--course", str(root)]) == 0
    assert "ada: already returned, unchanged" in capsys.readouterr().out
    versions = list((root / "exchange" / ws.course.id / "feedback" / AID / "ada" / str(ada.id))
                    .iterdir())
    assert len(versions) == 1
    assert main(["feedback", AID, "--student", "cleo", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert "cleo: not graded" in out and "ada" not in out and "ben" not in out


def formgrader_api(course_file: Path, monkeypatch):
    """nbgrader's API configured as the hub's formgrader service configures it: the
    nbgrader_config.py in hub_config/formgrader/, with $COURSE_FILE set."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("COURSE_FILE", str(course_file))
    monkeypatch.setenv("COURSE_EXCHANGE_URL", "http://127.0.0.1:9/unused/")
    config = PyFileConfigLoader("nbgrader_config.py",
                                str(REPO / "hub_config" / "formgrader")).load_config()
    assert isinstance(config, Config)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@pytest.mark.slow
def test_the_formgraders_autograde_and_feedback(make_course, monkeypatch):
    """What the formgrader's buttons run (nbgrader's autograde and generate_feedback under the
    course's config): feedback without hidden tests; a checksum warning only for an edited
    test cell, never for one handed back as released."""
    ws, source, released = hidden_course(make_course)
    tampered = with_answer(released, "return x + x")
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
            cell.source = cell.source.replace("assert square(2) == 4", "pass")
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", AID, {NOTEBOOK: nbformat.writes(tampered).encode()},
                received_at=due - HOUR)
        receive(ws, gb, "ben", AID, {NOTEBOOK: nbformat.writes(released).encode()},
                received_at=due - HOUR)
    collect(ws, AID)
    api = formgrader_api(ws.course_file, monkeypatch)

    untouched = api.autograde(AID, "ben", force=True)
    assert untouched["success"], untouched["log"]
    assert "checksum" not in untouched["log"].lower(), untouched["log"]
    edited = api.autograde(AID, "ada", force=True)
    assert edited["success"], edited["log"]
    assert re.findall(r"Attribute '(\w+)' for cell (\w+) has changed", edited["log"]) == [
        ("checksum", "test_square")]
    # the edited cell was put back: ada's hidden tests ran and failed
    graded = nbformat.read(ws.root / "autograded" / "ada" / AID / NOTEBOOK, as_version=4)
    (test_cell,) = [c for c in graded.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == "test_square"]
    assert test_cell.source == source.cells[2].source
    assert test_cell.outputs[-1]["evalue"] == "held-out case: a negative number"

    result = api.generate_feedback(AID, "ada", force=True)
    assert result["success"], result["log"]
    page = (ws.root / "feedback" / "ada" / AID / "squares.html").read_text()
    text = assert_no_hidden_test(page, source)
    assert "# hidden tests: 3 lines not shown" in text
    assert "AssertionError: held-out case: a negative number" in text
    # the hidden grader's test: its name, points and message, not its source
    grader_result = ("FAILED test_square_of_a_large_number (0/2): AssertionError: "
                     "square(10**6) should be 10**12")
    assert grader_result in text

    # the formgrader's "Tests Failed?" column: nbgrader's notebook submission rows
    with Gradebook(ws.db_url) as nbgb:
        rows = {row["student"]: row for row in nbgb.notebook_submission_dicts("squares", AID)}
    assert {k: (v["score"], v["max_score"], v["failed_tests"]) for k, v in rows.items()} == {
        "ada": (0.0, 7.0, True), "ben": (0.0, 7.0, True)}


@pytest.mark.slow
def test_feedback_on_a_hand_in_that_earned_nothing_says_why(make_course, capsys):
    from course.release import release

    ws, _source, _ = hidden_course(make_course)
    released = release(ws, AID, now=dt.datetime(2026, 10, 13, 12, tzinfo=dt.UTC))
    unchanged = (released / NOTEBOOK).read_bytes()  # handed back as it was released
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        receive(ws, gb, "ben", AID, {NOTEBOOK: unchanged}, received_at=due - HOUR)
    collect(ws, AID)
    (outcome,) = grade(ws, AID, students=["ben"])
    assert (outcome.outcome, outcome.score) == ("success", 0)
    assert main(["feedback", AID, "--course", str(ws.root)]) == 0
    assert "ben: returned" in capsys.readouterr().out
    (item,) = feedback_route(ws.course_file, "ben")
    text = html_text(wire.decode_files(item["files"])["squares.html"].decode())
    assert "This hand-in earned 0 points:" in text
    assert "squares.ipynb is the release, unchanged: it earns no points" in text

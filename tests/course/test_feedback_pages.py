"""Feedback pages as nbgrader's own generate_feedback writes them under the course's nbgrader
config, which ``course feedback``, the formgrader's button and ``nbgrader generate_feedback`` all
use: test cells without their values, nothing loaded from other sites, and the reasons why a
hand-in earned 0 points at the top."""

import datetime as dt
import re

import nbformat
import pytest
from hidden_tests_course import AID, NOTEBOOK, with_answer
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from test_feedback import HOUR, feedback_route, hidden_course, html_text

from course.collect import collect
from course.feedback import return_feedback
from course.inbox import receive
from course.nbgrader_steps import HideTestValues, NoteOfflineMaths
from course.release import release
from exchange import wire

RELEASED_AT = dt.datetime(2026, 10, 13, 12, tzinfo=dt.UTC)  # injected: no wall clock
BOX = "This hand-in earned 0 points:"
MATHS_NOTE = "Formulas appear as typed (TeX)"


def graded(make_course, answers: dict[str, str | None]):
    """The fixture course, released; each student's hand-in (the body of ``square``, or None:
    the release handed back unchanged) received, collected and autograded through nbgrader's
    API."""
    ws, _source, _ = hidden_course(make_course)
    unchanged = (release(ws, AID, now=RELEASED_AT) / NOTEBOOK).read_bytes()
    released = nbformat.reads(unchanged.decode(), as_version=4)
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        for student, answer in answers.items():
            content = (unchanged if answer is None
                       else nbformat.writes(with_answer(released, answer)).encode())
            receive(ws, gb, student, AID, {NOTEBOOK: content}, received_at=due - HOUR)
    collect(ws, AID)
    api = ws.nbgrader_api()
    for student in answers:
        outcome = api.autograde(AID, student, force=True)
        assert outcome["success"], outcome["log"]
    return ws, api


def feedback_page(ws, api, student: str) -> str:
    outcome = api.generate_feedback(AID, student, force=True)
    assert outcome["success"], outcome["log"]
    return (ws.root / "feedback" / student / AID / "squares.html").read_text()


def test_a_test_cells_value_is_dropped_its_output_and_error_kept():
    grading = {"grade": True, "solution": False, "grade_id": "test_it", "points": 3}
    test = new_code_cell("print('checking')\nassert f(1) == 1\n3", execution_count=3,
                         metadata={"nbgrader": grading})
    test.outputs = [new_output("stream", name="stdout", text="checking\n"),
                    new_output("execute_result", data={"text/plain": "3"}, execution_count=3),
                    new_output("display_data", data={"text/plain": "a plot"}),
                    new_output("error", ename="AssertionError", evalue="f(1) is wrong",
                               traceback=[])]
    answer = new_code_cell("x = 1\nx", metadata={"nbgrader": {**grading, "solution": True}})
    answer.outputs = [new_output("execute_result", data={"text/plain": "1"}, execution_count=4)]
    plain = new_code_cell("2")
    plain.outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=5)]

    step = HideTestValues()
    kinds = [[o["output_type"] for o in step.preprocess_cell(cell, {}, i)[0].outputs]
             for i, cell in enumerate([test, answer, plain])]
    assert kinds == [["stream", "display_data", "error"], ["execute_result"], ["execute_result"]]


@pytest.mark.slow
def test_feedback_shows_no_value_under_a_test_cell(make_course):
    ws, api = graded(make_course, {"ada": "return x + x"})  # square(-7) is not 49
    text = html_text(feedback_page(ws, api, "ada"))
    assert re.findall(r"Out\[[^\]]*\]", text) == []  # the graders' score, "Out[ ]: 0", is gone
    # what test cells printed and raised stays: why points were lost
    assert "FAILED test_square_of_a_large_number (0/2)" in text
    assert "AssertionError: held-out case: a negative number" in text
    # only the feedback's copy: the autograded notebook keeps the score nbgrader read
    autograded = nbformat.read(ws.root / "autograded" / "ada" / AID / NOTEBOOK, as_version=4)
    assert any(o["output_type"] == "execute_result" for c in autograded.cells
               if c.cell_type == "code" for o in c.outputs)


# an address outside the page: http://, https:// or protocol-relative //host
EXTERNAL = re.compile(r"""(?:\b(?:src|href|action)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
                      r"""\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.IGNORECASE)


@pytest.mark.slow
def test_feedback_pages_load_nothing_from_other_sites(make_course):
    ws, api = graded(make_course, {"ada": "return x * x"})
    page = feedback_page(ws, api, "ada")
    assert EXTERNAL.findall(page) == []
    assert "mathjax" not in re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL).lower()
    # the notebook's formula appears as typed, and the page says why
    text = html_text(page)
    assert "$(-x)^2 = x^2$" in text
    assert MATHS_NOTE in text
    assert text.index(MATHS_NOTE) < text.index("Write square(x)")


def test_a_page_without_formulas_has_no_maths_note():
    nb = new_notebook(cells=[new_markdown_cell("Costs 5 $ or 6 $\nper run"),
                             new_code_cell("x = '$a$'")])
    nb, _ = NoteOfflineMaths().preprocess(nb, {})
    assert len(nb.cells) == 2
    nb.cells.append(new_markdown_cell(r"where \(a^2\) is"))
    nb, _ = NoteOfflineMaths().preprocess(nb, {})
    assert MATHS_NOTE in nb.cells[0].source


@pytest.mark.slow
def test_nbgraders_generate_feedback_says_why_a_hand_in_earned_nothing(make_course):
    ws, api = graded(make_course, {"ben": None, "ada": "return x * x"})

    ben = html_text(feedback_page(ws, api, "ben"))
    assert BOX in ben
    assert "squares.ipynb is the release, unchanged: it earns no points" in ben
    assert ben.index(BOX) < ben.index("Write square(x)")  # at the top, before the notebook
    ada = html_text(feedback_page(ws, api, "ada"))  # 5 of 7 points
    assert "(Score: 5.0 / 7.0)" in ada and BOX not in ada

    # course feedback makes the same page: the box once, not twice
    result = return_feedback(ws, AID, students=["ben"])
    assert [r.student_id for r in result.returned] == ["ben"]
    (item,) = feedback_route(ws.course_file, "ben")
    returned = html_text(wire.decode_files(item["files"])["squares.html"].decode())
    assert returned.count(BOX) == 1

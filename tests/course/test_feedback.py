"""course feedback: nbgrader's feedback on graded submissions, hidden tests left out, returned
through the exchange where the service's feedback route (and so nbgrader fetch_feedback) finds it.
"""

import datetime as dt
import html
import re

import nbformat
import pytest
from exchange_requests import request

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from course.cli import main
from course.collect import collect
from course.feedback import strip_hidden_tests
from course.grade import ENGINE, grade
from course.gradebook.records import finish_run, start_run
from course.inbox import receive
from course.workspace import open_workspace
from exchange import wire

HOUR = dt.timedelta(hours=1)
AID = "01-numpy"


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
    cell.outputs = [new_output("error", ename="AssertionError", evalue="case 3",
                               traceback=["----> 3 assert secret_case()"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert cell.source == "check()\n# hidden tests: 1 line not shown"
    assert cell.outputs[0]["traceback"] == ["AssertionError: case 3"]


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


@pytest.mark.slow
def test_feedback_is_returned_through_the_exchange_without_hidden_tests(make_course, db_url,
                                                                        capsys):
    root = make_course(assignments=(AID,), db_url=db_url)
    ws = open_workspace(root)
    (source,) = (ws.source / AID).glob("*.ipynb")
    notebook = nbformat.read(source, as_version=4)
    solved = nbformat.writes(answer_notebook(notebook, solution_cells(notebook))).encode()
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        ada = receive(ws, gb, "ada", AID, {source.name: solved}, received_at=due - HOUR)
        ben = receive(ws, gb, "ben", AID, {source.name: solved}, received_at=due - HOUR)
    collect(ws, AID)
    (outcome,) = grade(ws, AID, students=["ada"])
    assert outcome.outcome == "success"
    with ws.gradebook() as gb:
        # ben's grading broke down (as a crashed worker's does)
        finish_run(gb, start_run(gb, "ben", AID, ben.id, ENGINE, "v1"), "error",
                   "grading crashed: worker died")
        # cleo hands in after the grading: not collected, not graded
        receive(ws, gb, "cleo", AID, {source.name: solved}, received_at=due - HOUR)

    assert main(["feedback", AID, "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"ada: returned: numpy-basics.html (submission {ada.id})" in out
    assert "ben: no feedback: grading failed: grading crashed: worker died" in out
    assert "cleo: not graded: handed in but not collected yet" in out
    assert "1 returned, 0 unchanged, 1 not generated, 1 not graded" in out

    # what the service's feedback route gives ada: her graded submission's feedback
    (item,) = feedback_route(ws.course_file, "ada")
    assert (item["student_id"], item["receipt_id"]) == ("ada", ada.id)
    page = wire.decode_files(item["files"])["numpy-basics.html"].decode()
    text = html_text(page)
    hidden = hidden_lines(notebook)
    assert len(hidden) > 30
    assert [line for line in hidden if line in text] == []
    assert "assert np.allclose(C, [[19.0, 22.0], [43.0, 50.0]])" in text  # visible tests stay
    assert re.findall(r"hidden tests: (\d+) lines not shown", text) == ["18", "14", "22"]
    # the autograded notebook itself keeps its hidden tests (formgrader shows them to staff)
    autograded = (root / "autograded" / "ada" / AID / source.name).read_text()
    assert "BEGIN HIDDEN TESTS" in autograded and "default_rng(1234)" in autograded
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

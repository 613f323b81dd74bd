"""``course grade`` ends with the submissions that need a look, and why (issue 23, item 12): one
that cannot be read, one that never finishes (which cell), one with no cells; a timed-out
student's feedback names the cell; without a terminal the progress comes as plain lines."""

import datetime as dt
import re
import threading
import time

import nbformat
import pytest
import sqlalchemy as sa
from small_courses import BASE_COURSE

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from course.gradebook import Receipt
from course.inbox import receive
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)
COURSE = BASE_COURSE.replace(
    "    - {id: cleo, first_name: Cleo}\n",
    "    - {id: cleo, first_name: Cleo}\n    - {id: dan, first_name: Dan}\n",
) + "grading: {notebook_timeout: 8, call_timeout: 5}\n"


def notebooks(ws) -> tuple[str, dict[str, bytes]]:
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    answers = solution_cells(nb)
    endless = {**answers, "matmul": "while True:\n    pass\n"}
    return source.name, {
        "ada": nbformat.writes(answer_notebook(nb, answers)).encode(),
        "ben": nbformat.writes(answer_notebook(nb, answers)).encode(),  # damaged once stored
        "cleo": nbformat.writes(answer_notebook(nb, endless)).encode(),
        "dan": nbformat.writes(nbformat.v4.new_notebook()).encode(),  # no cells
    }


@pytest.mark.slow
def test_course_grade_ends_with_the_problem_submissions(make_course, capsys):
    from commands.main import main
    from course.blank_work import why_nothing

    ws = open_workspace(make_course(COURSE, assignments=("01-numpy",)))
    due = ws.course.due("01-numpy")
    name, files = notebooks(ws)
    with ws.gradebook() as gb:
        for student, content in files.items():
            receive(ws, gb, student, "01-numpy", {name: content}, received_at=due - HOUR)
        (stored,) = gb.session.scalars(sa.select(Receipt.storage_path).filter_by(student_id="ben"))
    (ws.root / stored / name).write_bytes(b'{"cells": [ oops')
    course = ["--course", str(ws.course_file)]
    assert main(["collect", "01-numpy", *course]) == 0
    capsys.readouterr()

    code = main(["grade", "01-numpy", *course])
    out, err = capsys.readouterr()
    assert code == 1, out  # ben's could not be graded at all
    summary = out[out.index("graded 3 of 4 submissions of 01-numpy; 3 need a look:"):]
    lines = summary.splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["  ben", "  cleo", "  dan"]
    assert lines[0].startswith(f"  ben: unreadable: {name} is not valid JSON")
    assert re.fullmatch(
        rf'  cleo: timed out: {name} did not run to the end: timed out after 8 s running the '
        r'notebook: cell 7 \("while True:"\) never finished \(0 of \d+ points\)', lines[1])
    assert re.fullmatch(rf"  dan: earned nothing: {name} has no cells: it earns no points "
                        r"\(0 of \d+ points\)", lines[2])
    # no terminal: plain progress lines, the last once all four are done
    progress = [line for line in err.splitlines() if line.startswith("grading 01-numpy: ")]
    assert progress[0].startswith("grading 01-numpy: 0/4 done") and len(progress) >= 5
    assert re.fullmatch(r"grading 01-numpy: 4/4 done, 1 not graded, \d+ s", progress[-1])

    # what cleo's feedback says: the zero-points box and the test cells name the cell
    assert why_nothing(ws, "cleo", "01-numpy")[0].endswith(
        'cell 7 ("while True:") never finished')
    graded = nbformat.read(ws.root / "autograded" / "cleo" / "01-numpy" / name, as_version=4)
    shown = [output["text"] for cell in graded.cells if cell.cell_type == "code"
             and cell.metadata.get("nbgrader", {}).get("grade")
             for output in cell.outputs if output.get("name") == "stdout"]
    assert len(shown) == 3 and all('cell 7 ("while True:") never finished' in text
                                   for text in shown)


def test_plain_progress_lines_come_every_tenth_and_while_nothing_finishes():
    from rich.console import Console

    from commands.console import PlainProgress
    from course.grade_one import GradeOutcome

    lines = []

    class Lines(Console):
        def print(self, text, **_kwargs):
            lines.append(text)

    def outcome(kind="success"):
        return GradeOutcome("ada", kind, None, None, "", 0.0)

    with PlainProgress("01-numpy", 25, Lines(), every=3600) as plain:
        for n in range(25):
            plain.advance(outcome("unreadable" if n == 4 else "success"))
    assert [line.split(",")[0] for line in lines] == [
        f"grading 01-numpy: {n}/25 done" for n in (0, 3, 6, 9, 12, 15, 18, 21, 24, 25)]
    assert lines[1] == "grading 01-numpy: 3/25 done, 0 s"
    assert lines[-1] == "grading 01-numpy: 25/25 done, 1 not graded, 0 s"

    lines.clear()
    with PlainProgress("01-numpy", 2, Lines(), every=0.2):
        started = time.monotonic()
        while len(lines) < 3 and time.monotonic() - started < 30:  # a submission grading long
            threading.Event().wait(0.05)
    assert [line.split(",")[0] for line in lines[:3]] == ["grading 01-numpy: 0/2 done"] * 3

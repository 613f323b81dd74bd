"""A tiny course that keeps nbgrader-style hidden tests in its notebook (``### BEGIN HIDDEN
TESTS``), for the feedback and checksum tests: independent of what the repository's assignments
hold. One assignment, one notebook: a solution cell, a locked test cell with a visible and a
hidden part, a test cell that a hidden grader in graders/ scores, and a manually graded written
answer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

AID = "squares"
NOTEBOOK = "squares.ipynb"
HIDDEN = ["assert square(-7) == 49, 'held-out case: a negative number'",
          "assert square(0.5) == 0.25, 'held-out case: a fraction'",
          "assert all(square(k) == k ** 2 for k in range(31, 37))"]


# graders/test_squares.py: scores test_square_big (the engine's hidden graders)
GRADER = """\
import pytest


@pytest.mark.cell("test_square_big")
@pytest.mark.points(2)
def test_square_of_a_large_number(submission):
    assert submission.square(10 ** 6) == 10 ** 12, "square(10**6) should be 10**12"
"""




def secret_lines() -> list[str]:
    """Every line of a hidden test: the notebook's hidden regions and graders/."""
    return [*HIDDEN, *(line.strip() for line in GRADER.splitlines() if line.strip())]


def _cell(make, source, **nbgrader):
    cell = make(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                 "locked": False, **nbgrader}
    return cell


def source_notebook():
    return new_notebook(cells=[
        new_markdown_cell("# Squares\nWrite `square(x)`."),
        _cell(new_code_cell, "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
              "    ### END SOLUTION", grade_id="square", solution=True),
        _cell(new_code_cell, "assert square(2) == 4, 'square(2) should be 4'\n"
              "### BEGIN HIDDEN TESTS\n" + "\n".join(HIDDEN) + "\n### END HIDDEN TESTS",
              grade_id="test_square", grade=True, locked=True, points=3),
        _cell(new_code_cell, "# a hidden grader scores square on large numbers",
              grade_id="test_square_big", grade=True, locked=True, points=2),
        new_markdown_cell("Why is `square(-x) == square(x)`, that is $(-x)^2 = x^2$?"),
        _cell(new_markdown_cell, "YOUR ANSWER HERE", grade_id="why", grade=True,
              solution=True, points=2),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def course_text(today: dt.date, *, course_id: str = "dl-hidden") -> str:
    return f"""\
id: {course_id}
title: Hidden tests (fixture)
timezone: Europe/Berlin
withdrawal_deadline: {today + dt.timedelta(days=90)}
sessions:
  - {{date: {today + dt.timedelta(days=1)}, start: "10:15", topic: Squares}}
assignments:
  - {{id: {AID}, title: Squares, release: {today - dt.timedelta(days=1)} 12:00,
     due: {today + dt.timedelta(days=7)} 18:00}}
roster:
  instructors:
    - {{id: ina, first_name: Ina, last_name: Structor, email: ina@example.org}}
  students:
    - {{id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org}}
    - {{id: ben, first_name: Ben, last_name: Bitdiddle, email: ben@example.org}}
    - {{id: cleo, first_name: Cleo, last_name: Codd, email: cleo@example.org}}
"""


def write_course(root: Path, today: dt.date, **kwargs) -> Path:
    """The course folder with its one source notebook and its gradebook (made as `course
    upgrade` makes it); returns course.yml."""
    from small_courses import create_gradebook

    folder = root / "assignments" / AID
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), folder / NOTEBOOK)
    (folder / "graders").mkdir(exist_ok=True)
    (folder / "graders" / "test_squares.py").write_text(GRADER)
    course_file = root / "course.yml"
    course_file.write_text(course_text(today, **kwargs))
    create_gradebook(root)
    return course_file


def with_answer(notebook, square_body: str):
    """The released notebook with ``square``'s body replaced (the test cells untouched)."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "square":
            cell.source = f"def square(x):\n    {square_body}"
    return notebook

"""Submitting through the real exchange service: a notebook the grader could not read is refused
with 400 and a message naming the file expected, while the student can still fix it."""


import nbformat
import pytest
from exchange_requests import publish, request

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from exchange import wire

AID = "01-numpy"


def submit_as(course_file, user: str, files: dict[str, bytes]) -> tuple[int, dict]:
    return request(course_file, user, "POST", f"submissions/{AID}",
                   {"files": wire.encode_files(files)})


@pytest.fixture
def course_file(make_course):
    return publish(make_course(assignments=(AID,)), AID)


def solved(course_file) -> tuple[str, bytes]:
    (source,) = (course_file.parent / "assignments" / AID).glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    return source.name, nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()


def test_renamed_and_damaged_notebooks_are_refused_by_the_service(course_file):
    name, content = solved(course_file)
    code, reply = submit_as(course_file, "ada", {"numpy-basics (1).ipynb": content})
    assert code == 400
    assert "numpy-basics (1).ipynb: not a notebook of 01-numpy" in reply["error"]
    assert "hand in numpy-basics.ipynb under exactly that name" in reply["error"]
    code, reply = submit_as(course_file, "ada", {name: b'{"cells": [ oops'})
    assert code == 400 and "numpy-basics.ipynb is not valid JSON" in reply["error"]
    assert not (course_file.parent / "inbox").exists() or not list(
        (course_file.parent / "inbox").rglob("*.ipynb"))
    code, reply = submit_as(course_file, "ada", {name: content})
    assert code == 201 and reply["sha256"]

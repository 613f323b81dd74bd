"""Byte-identical notebooks from different students: found among the submissions that count,
the released version handed back unchanged left out, and shown by ``course collect``."""

import datetime as dt
import hashlib
import json

import pytest

from commands.main import main
from course.inbox import receive
from course.release import release
from course.similarity import IdenticalGroup, identical_submissions
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)
AID = "01-numpy"
NOW = dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC)

COURSE = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}
roster:
  students:
    - {id: ada}
    - {id: ben}
    - {id: cleo}
    - {id: dora}
    - {id: emil}
"""


def resaved(content: bytes) -> bytes:
    """The same notebook as Jupyter might write it back untouched: other metadata, other
    indentation, same cells."""
    nb = json.loads(content)
    nb["metadata"]["widgets"] = {"state": {}}
    return json.dumps(nb, indent=2).encode()


def edited(content: bytes, extra: str) -> bytes:
    nb = json.loads(content)
    nb["cells"][-1]["source"] = extra
    return json.dumps(nb, indent=1).encode()


@pytest.mark.parametrize("unchanged", ["bytes", "resaved"])
def test_identical_notebooks_are_flagged_but_not_the_unchanged_release(make_course, capsys,
                                                                      unchanged):
    ws = open_workspace(make_course(COURSE, assignments=(AID,)))
    release(ws, AID, now=NOW)
    (name,) = [p.name for p in (ws.source / AID).glob("*.ipynb")]
    outbound = ws.root / "exchange" / ws.course.id / "outbound" / AID / name
    released = outbound.read_bytes()  # where course release put the student version
    blank = released if unchanged == "bytes" else resaved(released)
    copied = edited(released, "my answer")
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        for student, content in [("ada", copied), ("ben", copied), ("cleo", blank),
                                 ("dora", blank), ("emil", edited(released, "own work"))]:
            receive(ws, gb, student, AID, {name: content}, received_at=due - HOUR)
        # emil's late copy of ada's notebook is not the submission that counts
        receive(ws, gb, "emil", AID, {name: copied}, received_at=due + HOUR)

    assert main(["collect", AID, "--course", str(ws.course_file)]) == 0
    out, err = capsys.readouterr()
    assert "collected 5 submissions" in out
    assert f"warning: identical notebooks from ada, ben ({name})" in err
    assert "cleo" not in err and "dora" not in err and "emil" not in err

    assert identical_submissions(ws, AID) == [
        IdenticalGroup(AID, name, hashlib.sha256(copied).hexdigest(), ("ada", "ben"))]


def test_nothing_collected_or_nothing_alike_is_no_warning(make_course, capsys):
    ws = open_workspace(make_course(COURSE))
    assert identical_submissions(ws, AID) == []  # nothing released, nothing collected
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", AID, {"a.ipynb": notebook.encode()}, received_at=due - HOUR)
        receive(ws, gb, "ben", AID, {"a.ipynb": notebook.encode() + b"\n"},
                received_at=due - HOUR)
        # same content, other names: each student's file is compared with the same file
        receive(ws, gb, "cleo", AID, {"b.ipynb": notebook.encode()}, received_at=due - HOUR)
    assert main(["collect", AID, "--course", str(ws.course_file)]) == 0
    assert "identical" not in capsys.readouterr().err
    assert identical_submissions(ws, AID) == []

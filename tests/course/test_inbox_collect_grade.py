"""Submissions in, the one that counts collected, graded by real nbgrader; a broken notebook in
the batch gets a clear error and never stops the others."""

import datetime as dt
import json

import nbformat
import pytest
import sqlalchemy as sa

from course.collect import collect
from course.demo import answer_notebook, solution_cells
from course.errors import UserError
from course.gradebook import GradingRun, Receipt
from course.inbox import MAX_SUBMISSION_BYTES, receive
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ws(make_course, db_url):
    return open_workspace(make_course(assignments=("01-numpy",), db_url=db_url))


def notebook_bytes(ws, answers=None) -> tuple[str, bytes]:
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    if answers is None:
        answers = solution_cells(nb)
    return source.name, nbformat.writes(answer_notebook(nb, answers)).encode()


def test_every_submission_is_kept_and_hashed(ws):
    name, content = notebook_bytes(ws)
    due = ws.course.due("01-numpy")
    with ws.gradebook() as gb:
        first = receive(ws, gb, "ada", "01-numpy", {name: content,
                                                     "timestamp.txt": b"2001-01-01 00:00:00"},
                        received_at=due - HOUR)
        second = receive(ws, gb, "ada", "01-numpy", {name: content + b" "},
                         received_at=due + HOUR)
        rows = gb.session.scalars(sa.select(Receipt).order_by(Receipt.id)).all()
    assert [r.id for r in rows] == [first.id, second.id]
    assert rows[0].client_timestamp == "2001-01-01 00:00:00"  # kept, never used as the time
    assert rows[0].received_at == due - HOUR
    assert rows[0].sha256 != rows[1].sha256 and rows[0].size_bytes == len(content)
    folders = sorted((ws.root / "inbox" / "01-numpy" / "ada").iterdir())
    assert len(folders) == 2 and not [f for f in folders if f.name.startswith(".")]
    assert (ws.root / rows[0].storage_path / name).read_bytes() == content
    assert not (ws.root / rows[0].storage_path / "timestamp.txt").exists()


@pytest.mark.parametrize(
    "student, files, message",
    [
        ("zed", {"a.ipynb": b"{}"}, "unknown student"),
        ("ada", {"../../escape.ipynb": b"{}"}, "refusing file name"),
        ("ada", {"/etc/passwd.ipynb": b"{}"}, "refusing file name"),
        ("ada", {"notes.txt": b"hi"}, "must contain a notebook"),
        ("ada", {"big.ipynb": b"x" * (MAX_SUBMISSION_BYTES + 1)}, "exceeds the limit"),
    ],
)
def test_bad_submissions_are_refused_and_leave_nothing(ws, student, files, message):
    with ws.gradebook() as gb:
        with pytest.raises((UserError, LookupError), match=message):
            receive(ws, gb, student, "01-numpy", files)
        assert gb.session.scalars(sa.select(Receipt)).all() == []
    assert not list((ws.root / "inbox").rglob("*.ipynb")) if (ws.root / "inbox").exists() else True


@pytest.mark.slow
def test_batch_with_a_malformed_notebook(ws):
    due = ws.course.due("01-numpy")
    name, perfect = notebook_bytes(ws)
    partial_cells = json.loads((ws.source / "01-numpy" / "mutants" / "partial.json").read_text())
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    answers = {**solution_cells(nbformat.read(source, as_version=4)), **partial_cells["cells"]}
    _, partial = notebook_bytes(ws, answers)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", "01-numpy", {name: perfect}, received_at=due - HOUR)
        receive(ws, gb, "ada", "01-numpy", {name: b"late junk"}, received_at=due + HOUR)
        receive(ws, gb, "ben", "01-numpy", {name: b'{"cells": [ oops'}, received_at=due - HOUR)
        receive(ws, gb, "cleo", "01-numpy", {name: partial}, received_at=due - HOUR)
    collected = {c.student_id: c for c in collect(ws, "01-numpy")}
    assert set(collected) == {"ada", "ben", "cleo"}
    # ada's on-time submission is the one collected, not the later junk
    ada_copy = ws.root / "submitted" / "ada" / "01-numpy" / name
    assert ada_copy.read_bytes() == perfect
    assert (ada_copy.parent / "timestamp.txt").read_text().startswith(
        (due - HOUR).strftime("%Y-%m-%d %H:%M:%S"))

    from course.grade import grade

    outcomes = {o.student_id: o for o in grade(ws, "01-numpy")}
    assert outcomes["ben"].outcome == "error"
    assert "is not valid JSON" in outcomes["ben"].message
    assert outcomes["ada"].outcome == "success"
    assert outcomes["ada"].score == outcomes["ada"].max_score > 0
    assert outcomes["cleo"].outcome == "success"
    assert 0 < outcomes["cleo"].score < outcomes["cleo"].max_score

    with ws.gradebook() as gb:
        runs = gb.session.scalars(sa.select(GradingRun)).all()
    assert sorted((r.student_id, r.outcome) for r in runs) == [
        ("ada", "success"), ("ben", "error"), ("cleo", "success")]
    assert all(r.receipt_id and r.finished_at and r.grader_version for r in runs)

    from course.cli import standing_data

    data = standing_data(ws, due + 48 * HOUR)
    entries = {s["id"]: s["assignments"]["01-numpy"] for s in data["students"]}
    assert entries["ben"]["state"] == "on_time" and entries["ben"]["score"] is None
    assert entries["ben"]["note"].startswith("grading failed: ")
    assert entries["ada"]["score"] == outcomes["ada"].score
    # nbgrader's own gradebook holds the same scores (formgrader shows them)
    with ws.gradebook() as gb:
        assert gb.nb.find_submission("01-numpy", "cleo").score == outcomes["cleo"].score


def test_missing_notebook_folder(ws):
    from course.grade import grade

    (outcome,) = grade(ws, "01-numpy", students=["ada"])
    assert outcome.outcome == "error" and outcome.message == "not collected"



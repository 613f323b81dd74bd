"""A student without a hub (a pilot on one machine, a student whose server is down) gets the
release and their feedback from the instructor (issue 23): ``course handout A --student S --out
DIR`` writes the student version as the exchange serves it, by the same release rule, and
``course feedback A --student S --out DIR`` the feedback last returned to that student."""

from __future__ import annotations

import datetime as dt

import pytest
from small_courses import BASE_COURSE, utc

from commands.main import main
from course import calendar
from course.inbox import receive
from course.store import CourseExchange
from course.workspace import open_workspace

AID = "01-numpy"
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
RELEASE = utc(2026, 10, 19, 10)  # 12:00 in Berlin
COURSE = BASE_COURSE.replace("{id: 01-numpy, title: NumPy, for_session: 2}",
                             "{id: 01-numpy, title: NumPy, release: 2026-10-19 12:00, "
                             "for_session: 2}")
RELEASED = {"numpy-basics.ipynb": NOTEBOOK, "data/points.csv": b"x,y\n1,2\n"}


@pytest.fixture
def course(make_course):
    """The course with 01-numpy released through the exchange (as ``course release`` or the
    formgrader's release puts it there)."""
    root = make_course(COURSE)
    exchange = CourseExchange(root / "course.yml")
    try:
        exchange.release(AID, RELEASED, by="ina")
    finally:
        exchange.close()
    return root


def at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(calendar, "utcnow", lambda: moment)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_handout_writes_the_student_version_once_it_is_released(course, tmp_path, monkeypatch,
                                                                capsys):
    out = tmp_path / "ada-laptop"
    at(monkeypatch, RELEASE - dt.timedelta(minutes=1))
    code, _, err = run(capsys, "handout", AID, "--student", "ada", "--out", str(out),
                       "--course", str(course))
    assert code == 2
    assert "01-numpy is not released yet: students do not get it until Mon 2026-10-19 12:00" in err
    assert not out.exists()  # nothing written

    at(monkeypatch, RELEASE)
    code, printed, err = run(capsys, "handout", AID, "--student", "ada", "--out", str(out),
                             "--course", str(course))
    assert code == 0, err
    assert f"handed out 01-numpy to ada: {out / AID} (2 files" in printed
    written = {path.relative_to(out / AID).as_posix(): path.read_bytes()
               for path in (out / AID).rglob("*") if path.is_file()}
    assert written == RELEASED
    assert [p.name for p in out.iterdir()] == [AID]  # no staging folder left behind

    # again: the student's folder (their work, maybe) is never overwritten
    (out / AID / "numpy-basics.ipynb").write_text("ada's work")
    code, _, err = run(capsys, "handout", AID, "--student", "ada", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "already exists" in err
    assert (out / AID / "numpy-basics.ipynb").read_text() == "ada's work"


def test_handout_refuses_unknown_students_and_unreleased_work(course, tmp_path, monkeypatch,
                                                             capsys):
    at(monkeypatch, RELEASE + dt.timedelta(days=1))
    out = tmp_path / "out"
    code, _, err = run(capsys, "handout", AID, "--student", "mallory", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "unknown student 'mallory'" in err
    code, _, err = run(capsys, "handout", AID, "--student", "ina", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "'ina' is an instructor, not a student" in err
    code, _, err = run(capsys, "handout", "02-linreg", "--student", "ada", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "until it is released (course release 02-linreg)" in err
    assert not out.exists()


def test_feedback_out_writes_the_feedback_last_returned_to_the_student(course, tmp_path,
                                                                      monkeypatch, capsys):
    ws = open_workspace(course)
    due = ws.course.due(AID)
    with ws.gradebook() as gb:
        first = receive(ws, gb, "ada", AID, {"numpy-basics.ipynb": NOTEBOOK},
                        received_at=due - dt.timedelta(hours=5))
        second = receive(ws, gb, "ada", AID, {"numpy-basics.ipynb": NOTEBOOK + b"\n"},
                         received_at=due - dt.timedelta(hours=1))
        receive(ws, gb, "ben", AID, {"numpy-basics.ipynb": NOTEBOOK},
                received_at=due - dt.timedelta(hours=1))
    exchange = CourseExchange(course / "course.yml")
    try:
        exchange.release_feedback(exchange.receipt(first.id), {"numpy-basics.html": b"first"})
    finally:
        exchange.close()
    out = tmp_path / "ada-laptop"
    argv = ["feedback", AID, "--student", "ada", "--out", str(out), "--course", str(course)]
    code, printed, err = run(capsys, *argv)
    assert code == 0, err
    (folder,) = (out / AID / "feedback").iterdir()
    assert folder.name == "2026-10-25 12:00:00.000000 UTC"  # the submission's time, as nbgrader
    assert (folder / "numpy-basics.html").read_bytes() == b"first"
    assert f"submission {first.id}" in printed

    # feedback on her later submission is returned: that is the one she gets now
    exchange = CourseExchange(course / "course.yml")
    try:
        exchange.release_feedback(exchange.receipt(second.id), {"numpy-basics.html": b"second"})
    finally:
        exchange.close()
    code, printed, err = run(capsys, *argv)
    assert code == 0, err
    assert f"submission {second.id}" in printed
    latest = out / AID / "feedback" / "2026-10-25 16:00:00.000000 UTC"
    assert (latest / "numpy-basics.html").read_bytes() == b"second"
    code, _, err = run(capsys, *argv)  # fetched again: the same folder, replaced
    assert code == 0, err
    assert len(list((out / AID / "feedback").iterdir())) == 2


def test_feedback_out_refuses_without_feedback_or_a_student(course, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, "feedback", AID, "--student", "ben", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "no feedback on 01-numpy was returned to ben yet" in err
    code, _, err = run(capsys, "feedback", AID, "--student", "mallory", "--out", str(out),
                       "--course", str(course))
    assert code == 2 and "unknown student 'mallory'" in err
    code, _, err = run(capsys, "feedback", AID, "--out", str(out), "--course", str(course))
    assert code == 2 and "name them with --student" in err
    assert not out.exists()

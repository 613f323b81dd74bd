"""``course release`` says when students will see the assignment and warns after the deadline;
``course draw`` warns before the deadline. Decided by pure functions of an injected "now"."""

import datetime as dt

import pytest
from small_courses import utc

from commands.main import main
from course import calendar
from course.coursefile import load_course
from course.gradebook.records import add_receipt
from course.presenters import draw_notice
from course.release import release_notice
from course.workspace import open_workspace

AID = "01-numpy"
COURSE = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
sessions:
  - {date: 2026-10-27, start: "10:15", topic: NumPy}
assignments:
  - {id: 01-numpy, title: NumPy, release: 2026-10-13 12:00, due: 2026-10-25 18:00}
  - {id: 02-linreg, title: Linear regression, due: 2026-11-01 18:00}
roster:
  students:
    - {id: ada}
    - {id: ben}
    - {id: cleo}
"""
# 01-numpy: released Tue 2026-10-13 12:00 +0200 = 10:00 UTC; due Sun 2026-10-25 18:00 +0100
# (the clocks went back that morning) = 17:00 UTC
RELEASE = utc(2026, 10, 13, 10, 0)
DUE = utc(2026, 10, 25, 17, 0)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def course(make_course):
    return load_course(make_course(COURSE))[0]


@pytest.mark.parametrize("now, expected", [
    (RELEASE - SECOND,
     ["students will see 01-numpy from Tue 2026-10-13 12:00 +0200 (Europe/Berlin) (its "
      + "release: time)"]),
    (RELEASE, ["students see 01-numpy now"]),
    (DUE - SECOND, ["students see 01-numpy now"]),
])
def test_release_notice_before_the_deadline(course, now, expected):
    assert release_notice(course, AID, now) == expected


@pytest.mark.parametrize("now", [DUE, DUE + dt.timedelta(days=3)])
def test_release_notice_warns_after_the_deadline(course, now):
    first, warning = release_notice(course, AID, now)
    assert first == "students see 01-numpy now"
    assert warning.startswith("warning: releasing 01-numpy after its deadline "
                              "Sun 2026-10-25 18:00 +0100 (Europe/Berlin): every submission "
                              "will be late")


def test_release_notice_without_a_release_time(course):
    assert release_notice(course, "02-linreg", utc(2026, 10, 1)) == ["students see 02-linreg now"]


def test_draw_notice_warns_only_before_the_deadline(course):
    (warning,) = draw_notice(course, AID, DUE - SECOND)
    assert warning == ("warning: drawing before the deadline of 01-numpy (Sun 2026-10-25 "
                       "18:00 +0100 (Europe/Berlin)): only students who have already handed "
                       "in can be drawn")
    assert draw_notice(course, AID, DUE) == []
    assert draw_notice(course, AID, DUE + dt.timedelta(days=2)) == []


def test_release_command_says_when_students_see_it(make_course, monkeypatch, capsys):
    root = make_course(COURSE, assignments=(AID,))
    monkeypatch.setattr(calendar, "utcnow", lambda: RELEASE - dt.timedelta(days=1))
    assert main(["release", AID, "--course", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "students will see 01-numpy from Tue 2026-10-13 12:00 +0200" in out
    assert "warning" not in err

    monkeypatch.setattr(calendar, "utcnow", lambda: DUE + dt.timedelta(hours=2))
    assert main(["release", AID, "--course", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "students see 01-numpy now" in out
    assert "warning: releasing 01-numpy after its deadline Sun 2026-10-25 18:00 +0100" in err


def test_draw_command_warns_before_the_deadline(make_course, monkeypatch, capsys):
    root = make_course(COURSE)
    ws = open_workspace(root)
    with ws.gradebook() as gb:  # ada handed in early; ben and cleo still have two days
        add_receipt(gb, student_id="ada", assignment_id=AID, received_at=DUE - dt.timedelta(days=3),
                    sha256="0" * 64, size_bytes=1, storage_path="x")
        gb.commit()
    monkeypatch.setattr(calendar, "utcnow", lambda: DUE - dt.timedelta(days=2))
    assert main(["draw", AID, "--seed", "s", "--course", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "warning: drawing before the deadline of 01-numpy" in err
    assert "drew 1 of 1 students" in out and "ada" in out

    with ws.gradebook() as gb:
        add_receipt(gb, student_id="ben", assignment_id="02-linreg",
                    received_at=utc(2026, 10, 30), sha256="0" * 64, size_bytes=1,
                    storage_path="x")
        gb.commit()
    monkeypatch.setattr(calendar, "utcnow", lambda: utc(2026, 11, 2))  # after 02-linreg's
    assert main(["draw", "02-linreg", "--seed", "s", "--course", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in err and "drew 1 of 1 students" in out

"""Who did it is recorded by name: a command run as root (the hub container's shell, where
``exec`` lands) must say who runs it, or it records nothing (issue 28: extensions were shown to
students as granted "by root")."""

from __future__ import annotations

import getpass

import pytest
from small_courses import BASE_COURSE
from sqlalchemy import select

from commands.main import main
from course.gradebook.models import Extension, Release
from course.workspace import open_workspace


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "root")


def test_root_without_a_name_records_nothing_and_says_how(make_course, as_root, monkeypatch,
                                                          capsys):
    root = make_course(BASE_COURSE, assignments=("01-numpy",))
    monkeypatch.delenv("COURSE_USER")  # make_course names the instructor
    course = ["--course", str(root / "course.yml")]
    assert main(["extend", "ada", "01-numpy", "--until", "2026-11-01 18:00", "--reason", "ill",
                 *course]) == 2
    err = capsys.readouterr().err
    assert "records no person" in " ".join(err.split()) and "COURSE_USER" in err
    assert main(["release", "01-numpy", *course]) == 2
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        assert gb.session.scalars(select(Extension)).all() == []
        assert gb.session.scalars(select(Release)).all() == []
    assert not (root / "exchange" / "dl-test" / "outbound" / "01-numpy").exists()


def test_root_that_names_itself_is_recorded_by_that_name(make_course, as_root, monkeypatch):
    root = make_course(BASE_COURSE, assignments=("01-numpy",))
    monkeypatch.setenv("COURSE_USER", "ina")
    assert main(["extend", "ada", "01-numpy", "--until", "2026-11-01 18:00", "--reason", "ill",
                 "--course", str(root / "course.yml")]) == 0
    with open_workspace(root).gradebook() as gb:
        (row,) = gb.session.scalars(select(Extension)).all()
        assert row.granted_by == "ina"


def test_a_person_s_own_login_is_recorded(make_course, monkeypatch):
    root = make_course(BASE_COURSE, assignments=("01-numpy",))
    monkeypatch.setattr(getpass, "getuser", lambda: "gus")
    monkeypatch.delenv("COURSE_USER", raising=False)
    assert main(["extend", "ada", "01-numpy", "--until", "2026-11-01 18:00", "--reason", "ill",
                 "--course", str(root / "course.yml")]) == 0
    with open_workspace(root).gradebook() as gb:
        (row,) = gb.session.scalars(select(Extension)).all()
        assert row.granted_by == "gus"

"""The course file as services see it on every request: ``course_file_stamp`` reads and hashes
the file again unless it is settled and its ``stat`` unchanged, and ``roles_by_user`` looks a
role up as ``role_in`` does."""

from __future__ import annotations

import builtins
import os

import pytest
from small_courses import BASE_COURSE

from course import fresh_course
from course.coursefile import load_course
from course.fresh_course import SETTLED_S, TRUST_STAT_S, course_file_stamp
from course.roles import Role, role_in, roles_by_user


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The paths ``course_file_stamp`` opens."""
    opened: list[str] = []

    def counting_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(fresh_course, "open", counting_open, raising=False)
    return opened


def test_a_file_changed_lately_is_read_on_every_call(tmp_path, reads):
    """Within ``SETTLED_S`` of its last change an edit of the same size may keep the same
    ``stat`` (one tick of the file system's clock): only the bytes tell, so the file is read
    every time, unchanged or not."""
    path = tmp_path / "course.yml"
    path.write_text(BASE_COURSE)
    lately = path.stat().st_ctime_ns / 1e9 + SETTLED_S / 2
    first = course_file_stamp(path, now=lambda: lately)
    assert course_file_stamp(path, now=lambda: lately) == first
    path.write_text(BASE_COURSE.replace("Ada", "Eva"))  # same size
    assert course_file_stamp(path, now=lambda: lately) != first
    assert reads == [str(path)] * 3


def test_a_settled_file_is_only_stat_ed_until_it_changes(tmp_path, reads):
    path = tmp_path / "course.yml"
    path.write_text(BASE_COURSE)
    settled = path.stat().st_ctime_ns / 1e9 + SETTLED_S + 1
    stamp = course_file_stamp(path, now=lambda: settled)
    assert course_file_stamp(path, now=lambda: settled) == stamp
    assert reads == [str(path)]
    path.write_text(BASE_COURSE + "# one more line\n")
    edited = course_file_stamp(path, now=lambda: settled)
    assert reads == [str(path)] * 2 and edited != stamp
    os.replace(_copy(path, tmp_path / "new.yml"), path)  # same bytes, another inode
    assert course_file_stamp(path, now=lambda: settled)[1] != edited[1]
    assert len(reads) == 3


def test_an_unchanged_stat_is_trusted_for_a_second_at_most(tmp_path, reads):
    """NFS may serve ``stat`` from its attribute cache for up to a minute after another machine
    edited the file; reading the bytes again each ``TRUST_STAT_S`` bounds how long a student
    taken off the roster there can still hand in."""
    path = tmp_path / "course.yml"
    path.write_text(BASE_COURSE)
    settled = path.stat().st_ctime_ns / 1e9 + SETTLED_S + 1
    stamp = course_file_stamp(path, now=lambda: settled)
    assert course_file_stamp(path, now=lambda: settled + TRUST_STAT_S * 0.9) == stamp
    assert reads == [str(path)]
    assert course_file_stamp(path, now=lambda: settled + TRUST_STAT_S) == stamp
    assert reads == [str(path)] * 2  # read again, and trusted again from then on
    assert course_file_stamp(path, now=lambda: settled + TRUST_STAT_S * 1.5) == stamp
    assert len(reads) == 2


def _copy(path, to):
    to.write_bytes(path.read_bytes())
    return to


def test_roles_by_user_names_each_role_and_the_first_of_a_person_listed_twice(tmp_path):
    text = BASE_COURSE.replace(
        "  students:\n", "  graders:\n    - {id: gina, first_name: Gina}\n  students:\n")
    (tmp_path / "course.yml").write_text(text)
    course, _ = load_course(tmp_path / "course.yml")
    roles = roles_by_user(course)
    assert {user: role.name for user, role in roles.items()} == {
        "ada": "student", "ben": "student", "cleo": "student", "ina": "instructor",
        "gina": "grader"}
    assert role_in(course, "gina") == Role("grader") and role_in(course, "nobody") is None
    # a course file refuses one person in two roles; a Course built otherwise: the first wins
    roster = course.roster.model_copy(update={"graders": [*course.roster.graders,
                                                          course.roster.students[0]]})
    twice = course.model_copy(update={"roster": roster})
    assert roles_by_user(twice)["ada"] == Role("student") == role_in(twice, "ada")
    assert all(role_in(twice, user) == role for user, role in roles_by_user(twice).items())

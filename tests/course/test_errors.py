"""Errors by type: an unknown id is the user's to fix (exit 2, HTTP 404); any other error, a
KeyError included, is a bug and is never passed off as one (a traceback, HTTP 500)."""

from __future__ import annotations

import pytest
from exchange_requests import request

from commands.main import main
from course import reports
from course.coursefile import parse_course
from course.errors import UnknownId, UserError
from course.store import CourseExchange
from exchange import wire


@pytest.fixture
def root(make_course):
    return make_course()


def test_an_unknown_student_or_assignment_exits_2_with_the_message(root, capsys):
    assert main(["status", "--student", "zed", "--course", str(root)]) == 2
    assert "error: unknown student 'zed': not in the course roster" in capsys.readouterr().err
    assert main(["excuse", "ada", "99-nope", "--reason", "x", "--course", str(root)]) == 2
    assert "error: unknown assignment '99-nope' (known: 01-numpy, 02-linreg)" in \
        capsys.readouterr().err


def test_unknown_ids_are_user_errors_and_lookups(root):
    course = parse_course((root / "course.yml").read_text())
    for lookup in (lambda: course.student("zed"), lambda: course.assignment("99-nope"),
                   lambda: course.session_number(7)):
        with pytest.raises(UnknownId) as raised:
            lookup()
        assert isinstance(raised.value, UserError) and isinstance(raised.value, LookupError)


@pytest.mark.parametrize("bug", [KeyError("due_utc"), IndexError("list index out of range")])
def test_a_lookup_bug_inside_a_command_is_not_passed_off_as_a_user_error(root, monkeypatch, bug):
    def broken(_course):
        raise bug

    monkeypatch.setattr(reports, "deadlines_data", broken)
    with pytest.raises(type(bug)):
        main(["deadlines", "--format", "json", "--course", str(root)])


def test_the_exchange_answers_404_for_an_unknown_id_and_500_for_a_bug(root, monkeypatch):
    course_file = root / "course.yml"
    files = wire.encode_files({"work.ipynb": b"{}"})
    code, reply = request(course_file, "ina", "PUT", "assignments/99-nope", {"files": files})
    assert code == 404 and "unknown assignment '99-nope'" in reply["error"]

    def broken(self, role):
        raise KeyError("notebooks")

    monkeypatch.setattr(CourseExchange, "released", broken)
    code, reply = request(course_file, "ada", "GET", "assignments")
    assert (code, reply["error"]) == (500, "Internal Server Error")

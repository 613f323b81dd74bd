"""The course file: a valid one loads; each mistake names the file, line and field."""

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.coursefile import CourseFileError, parse_course


def test_base_course_loads():
    course = parse_course(BASE_COURSE)
    assert [a.id for a in course.assignments] == ["01-numpy", "02-linreg"]
    assert course.policy.excused_misses == 1 and course.policy.late == "missed"
    assert course.policy.pass_threshold == 0
    assert [p.id for p in course.roster.students] == ["ada", "ben", "cleo"]
    # for_session 2 (Tue 2026-10-27) -> Sunday 2026-10-25 18:00 CET
    assert course.due("01-numpy").isoformat() == "2026-10-25T17:00:00+00:00"


@pytest.mark.parametrize(
    "old, new, line, field, message",
    [
        ("timezone: Europe/Berlin", "timezone: Europe/Berlinn", 3, "timezone", "unknown IANA"),
        ("withdrawal_deadline: 2026-12-01\n", "", 1, "withdrawal_deadline", "required"),
        ("withdrawal_deadline: 2026-12-01", "withdrawal_deadline: soon", 4,
         "withdrawal_deadline", "date"),
        ("due: 2026-11-01 18:00", "due: 2026-11-01", 12, "assignments[1].due",
         "expected a date and time"),
        ("due: 2026-11-01 18:00", "due: 2026-03-29 02:15", 12, "assignments[1].due",
         "does not exist"),
        ("due: 2026-11-01 18:00", "duee: 2026-11-01 18:00", 12, "assignments[1].duee",
         "unknown key"),
        ("for_session: 2", "for_session: 9", 11, "assignments[0].for_session", "only 3 sessions"),
        ("title: NumPy, for_session: 2", "title: NumPy", 11, "assignments[0]", "needs 'due'"),
        ("id: 02-linreg", "id: 01-numpy", 12, "assignments[1].id", "duplicate"),
        ("id: 02-linreg, title: Linear regression,",
         "id: 02-linreg, release: 2026-11-02 09:00, title: L,", 12, "assignments[1].release",
         "before the deadline"),
        ("id: ben,", "id: ina,", 16, "roster.instructors[0].id", "already listed"),
        ("id: cleo,", "id: 'cl/eo',", 20, "roster.students[2].id", "pattern"),
        ("excused_misses: 1", "excused_misses: -1", 13, "policy.excused_misses", "greater"),
        ("policy: {excused_misses: 1}", "policy: {late: sometimes}", 13, "policy.late",
         "'missed', 'accepted' or 'window'"),
        ("date: 2026-10-20,", "date: 2026-10-32,", 7, "sessions[0].date", "date"),
    ],
)
def test_errors_point_at_line_and_field(old, new, line, field, message):
    assert old in BASE_COURSE
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace(old, new), "my/course.yml")
    error = caught.value
    assert (error.path, error.line, error.field) == ("my/course.yml", line, field)
    assert message in error.message
    assert str(error).startswith(f"my/course.yml:{line}: {field}: ")


def test_yaml_syntax_error_has_a_line():
    with pytest.raises(CourseFileError, match=r"course.yml:4: not valid YAML"):
        parse_course("id: x\ntitle: y\nsessions: [\n", "course.yml")


def test_not_a_mapping():
    with pytest.raises(CourseFileError, match="expected a mapping"):
        parse_course("- just\n- a list\n")


def test_validate_command_exits_2_with_one_message(tmp_path, capsys):
    bad = tmp_path / "course.yml"
    bad.write_text(BASE_COURSE.replace("for_session: 2", "for_session: 0"))
    assert main(["validate", "--course", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:11: assignments[0].for_session" in err.replace("\n", "")
    assert main(["validate", "--course", str(tmp_path / "nothing")]) == 2
    assert "no course file here" in capsys.readouterr().err


def test_validate_command_ok(tmp_path, capsys):
    (tmp_path / "course.yml").write_text(BASE_COURSE)
    assert main(["validate", "--course", str(tmp_path)]) == 0
    assert "2 assignments, 3 sessions, 3 students" in capsys.readouterr().out

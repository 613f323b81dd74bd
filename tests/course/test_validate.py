"""`course validate` lists every problem at once; a misspelt key gets the key it probably meant."""

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.coursefile import CourseFileError, parse_course

# three unrelated mistakes: a misspelt required key, a bad date, a misspelt nested key
THREE_ERRORS = (BASE_COURSE.replace("title: Deep", "titel: Deep")
                .replace("date: 2026-10-20,", "date: 2026-10-32,")
                .replace("excused_misses: 1", "excused_missses: 1"))


def _write(tmp_path, text, folders=()):
    (tmp_path / "course.yml").write_text(text)
    for assignment_id in folders:
        (tmp_path / "assignments" / assignment_id).mkdir(parents=True)
    return tmp_path / "course.yml"


def test_loader_reports_every_error_one_per_line():
    with pytest.raises(CourseFileError) as caught:
        parse_course(THREE_ERRORS, "course.yml")
    lines = str(caught.value).splitlines()
    assert lines == [
        "course.yml:2: titel: unknown key; did you mean 'title'? ('title' is required)",
        ("course.yml:7: sessions[0].date: Input should be a valid date or datetime, "
         "day value is outside expected range (got '2026-10-32')"),
        "course.yml:13: policy.excused_missses: unknown key; did you mean 'excused_misses'?",
    ]
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (2, "titel"), (7, "sessions[0].date"), (13, "policy.excused_missses")]


def test_errors_across_fields_are_all_reported():
    text = (BASE_COURSE.replace("timezone: Europe/Berlin", "timezone: Mars/Base")
            .replace("for_session: 2", "for_session: 9").replace("id: 02-linreg", "id: 01-numpy"))
    with pytest.raises(CourseFileError) as caught:
        parse_course(text, "course.yml")
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (3, "timezone"), (11, "assignments[0].for_session"), (12, "assignments[1].id")]


def test_misspelt_required_key_is_reported_at_the_misspelling():
    text = "# the course\n" + BASE_COURSE.replace("timezone:", "timezon:")  # mapping on line 2
    with pytest.raises(CourseFileError) as caught:
        parse_course(text, "course.yml")
    assert str(caught.value) == (
        "course.yml:4: timezon: unknown key; did you mean 'timezone'? ('timezone' is required)")


@pytest.mark.parametrize(
    "old, new, line, field, meant",
    [
        ("policy: {excused_misses: 1}", "policy: {excused_missses: 1}", 13,
         "policy.excused_missses", "excused_misses"),
        ("due: 2026-11-01 18:00", "releas: 2026-10-30 09:00, due: 2026-11-01 18:00", 12,
         "assignments[1].releas", "release"),
        ("{id: 01-numpy,", "{idd: 01-numpy,", 11, "assignments[0].idd", "id"),
        ("{id: ben, first_name: Ben}", "{id: ben, firstname: Ben}", 19,
         "roster.students[1].firstname", "first_name"),
        ("  students:", "  student:", 17, "roster.student", "students"),
        ("topic: MLP", "topik: MLP", 8, "sessions[1].topik", "topic"),
        ("{weekday: sunday,", "{weekdy: sunday,", 5, "deadline_rule.weekdy", "weekday"),
        ("policy:", "grading: {memry_mb: 512}\npolicy:", 13, "grading.memry_mb", "memory_mb"),
        ("title: NumPy,", "title: NumPy, grading: {call_timout: 5},", 11,
         "assignments[0].grading.call_timout", "call_timeout"),
    ],
)
def test_misspelt_key_at_any_depth_gets_a_suggestion(old, new, line, field, meant):
    assert old in BASE_COURSE
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace(old, new), "course.yml")
    assert str(caught.value).startswith(
        f"course.yml:{line}: {field}: unknown key; did you mean {meant!r}?")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace("policy: {", "policy: {xyzzy: 3, "), "course.yml")
    assert str(caught.value) == ("course.yml:13: policy.xyzzy: unknown key; allowed here: "
                                 "excused_misses, pass_threshold, late, late_days, max_submissions, "
                                 "regrade_requests, feedback")


def test_validate_lists_all_errors_and_exits_2(tmp_path, capsys):
    course_file = _write(tmp_path, THREE_ERRORS, folders=["01-numpy", "02-linreg"])
    assert main(["validate", "--course", str(course_file)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {course_file}:2: titel: unknown key; did you mean 'title'? ('title' is required)",
        (f"error: {course_file}:7: sessions[0].date: Input should be a valid date or datetime, "
         "day value is outside expected range (got '2026-10-32')"),
        (f"error: {course_file}:13: policy.excused_missses: unknown key; "
         "did you mean 'excused_misses'?"),
    ]
    assert "3 error(s), 0 warning(s)" in err


def test_other_commands_raise_one_error_listing_all(tmp_path, capsys):
    course_file = _write(tmp_path, THREE_ERRORS)
    assert main(["deadlines", "--course", str(course_file)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count(f"{course_file}:") == 3
    assert f"{course_file}:13: policy.excused_missses" in err


def test_validate_reports_each_missing_assignment_folder(tmp_path, capsys):
    course_file = _write(tmp_path, BASE_COURSE, folders=["02-linreg"])
    assert main(["validate", "--course", str(course_file)]) == 0  # a warning does not fail it
    out, err = capsys.readouterr()
    assert "ok (2 assignments, 3 sessions, 3 students), 1 warning(s)" in out
    folder = tmp_path.resolve() / "assignments" / "01-numpy"
    assert err.splitlines() == [
        f"warning: {course_file}:11: assignments[0]: assignment '01-numpy' has no folder {folder}"]

    (tmp_path / "assignments" / "01-numpy").mkdir()
    assert main(["validate", "--course", str(course_file)]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith("ok (2 assignments, 3 sessions, 3 students)") and err == ""

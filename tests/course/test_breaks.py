"""Weeks without a session (issue 23): ``breaks:`` in the course file, checked (a break ends
after it starts, breaks in date order, no session inside one), shown in ``course deadlines`` and
the wiki's syllabus as "no session: NAME", and a ``for_session`` deadline across a break is still
the deadline rule's Sunday before that session."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.calendar import iso_local
from course.coursefile import CourseFileError, parse_course
from course.wiki.syllabus import syllabus_page

WINTER = """\
id: dl-winter
title: Deep Learning (winter)
timezone: Europe/Berlin
withdrawal_deadline: 2027-01-31
deadline_rule: {weekday: sunday, time: "18:00"}
sessions:
  - {date: 2026-12-08, start: "10:15", topic: RNN}
  - {date: 2026-12-15, start: "10:15", topic: Attention}
  - {date: 2027-01-05, start: "10:15", topic: Transformers}
breaks:
  - {first_day: 2026-12-21, last_day: 2027-01-03, name: Winter break}
assignments:
  - {id: 07-rnn, title: RNN, for_session: 2}
  - {id: 08-attention, title: Attention, for_session: 3}
roster:
  students: [{id: ada}]
"""


def local(course, assignment_id) -> str:
    return iso_local(course.due(assignment_id), course.zone)


def test_a_deadline_across_a_break_is_the_sunday_before_its_session():
    course = parse_course(WINTER)
    (pause,) = course.breaks
    assert (pause.first_day, pause.last_day, pause.label) == (
        dt.date(2026, 12, 21), dt.date(2027, 1, 3), "no session: Winter break")
    assert local(course, "07-rnn") == "2026-12-13T18:00:00+01:00"
    # session 3 is the first after the break: its Sunday before, the break's last day (not
    # the Sunday before the break, nor a week counted per session)
    assert local(course, "08-attention") == "2027-01-03T18:00:00+01:00"


def test_course_files_without_breaks_stay_valid():
    assert parse_course(BASE_COURSE).breaks == []


def errors(text: str) -> list[str]:
    with pytest.raises(CourseFileError) as caught:
        parse_course(text)
    return [str(error) for error in caught.value.errors]


def test_a_session_inside_a_break_is_an_error_at_its_line():
    text = WINTER.replace("2027-01-05", "2026-12-22")
    (error,) = errors(text)
    assert error.startswith("course.yml:9: sessions[2].date: session 3 (2026-12-22) falls in "
                            "the break 'Winter break' (2026-12-21 to 2027-01-03, line 11)")


def test_a_break_ends_after_it_starts_and_breaks_come_in_order():
    backwards = WINTER.replace("last_day: 2027-01-03", "last_day: 2026-12-20")
    (error,) = errors(backwards)
    assert error.startswith("course.yml:11: breaks[0].last_day: the break ends (2026-12-20) "
                            "before its first day (2026-12-21)")
    overlapping = WINTER.replace(
        "name: Winter break}\n",
        "name: Winter break}\n  - {first_day: 2027-01-02, last_day: 2027-01-04}\n")
    (error,) = errors(overlapping)
    assert error.startswith("course.yml:12: breaks[1].first_day: breaks out of order or "
                            "overlapping")
    (error,) = errors(WINTER.replace("last_day: 2027-01-03", "last_day: someday"))
    assert error.startswith("course.yml:11: breaks[0].last_day:")


def test_course_deadlines_shows_the_break_where_it_falls(make_course, capsys):
    root = make_course(WINTER)
    assert main(["deadlines", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert "no session: Winter break" in out and "Mon 2026-12-21 to Sun 2027-01-03" in out
    assert out.index("07-rnn") < out.index("no session: Winter break") < out.index("08-attention")

    assert main(["deadlines", "--format", "json", "--course", str(root)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row.get("assignment") or row["label"] for row in rows] == [
        "07-rnn", "no session: Winter break", "08-attention"]
    assert rows[1] == {"break": "Winter break", "first_day": "2026-12-21",
                       "last_day": "2027-01-03", "label": "no session: Winter break"}


def test_the_syllabus_has_a_row_for_the_break():
    page = syllabus_page(parse_course(WINTER), {})
    rows = [line for line in page.markdown.splitlines() if line.startswith("| ")]
    dates = [row.split("|")[2].strip() for row in rows[1:4]]
    assert dates == ["Tue 2026-12-08", "Tue 2026-12-15", "Mon 2026-12-21 to Sun 2027-01-03"]
    assert "no session: Winter break" in rows[3] and "Tue 2027-01-05" in rows[4]

"""Deadlines are exact instants across daylight-saving changes."""

import datetime as dt

import pytest

from course import calendar
from course.coursefile import CourseFileError, parse_course

BERLIN = calendar.get_zone("Europe/Berlin")
UTC = dt.UTC


def course_with(sessions: str, assignments: str, zone: str = "Europe/Berlin") -> str:
    return f"""
id: c
title: C
timezone: {zone}
withdrawal_deadline: 2026-12-01
sessions:
{sessions}
assignments:
{assignments}
"""


@pytest.mark.parametrize(
    "session_day, expected_utc",
    [
        # Last Sunday of March 2026 is the 29th: clocks go 02:00 -> 03:00, so 18:00 is CEST.
        ("2026-03-31", dt.datetime(2026, 3, 29, 16, 0, tzinfo=UTC)),
        # The Sunday before is still winter time.
        ("2026-03-24", dt.datetime(2026, 3, 22, 17, 0, tzinfo=UTC)),
        # Last Sunday of October 2026 is the 25th: 03:00 -> 02:00, so 18:00 is CET.
        ("2026-10-27", dt.datetime(2026, 10, 25, 17, 0, tzinfo=UTC)),
        ("2026-10-20", dt.datetime(2026, 10, 18, 16, 0, tzinfo=UTC)),
    ],
)
def test_sunday_rule_is_exact_across_dst(session_day, expected_utc):
    text = course_with(f'  - {{date: {session_day}, start: "10:15"}}',
                       "  - {id: a, for_session: 1}")
    due = parse_course(text).due("a")
    assert due == expected_utc
    assert due.astimezone(BERLIN).strftime("%a %H:%M") == "Sun 18:00"


@pytest.mark.parametrize(
    "local, expected_utc",
    [
        ("2026-03-29 18:00", dt.datetime(2026, 3, 29, 16, 0, tzinfo=UTC)),
        ("2026-10-25 18:00", dt.datetime(2026, 10, 25, 17, 0, tzinfo=UTC)),
        # The repeated hour on the October change, with its offset saying which one.
        ("2026-10-25 02:30+02:00", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("2026-10-25 02:30+01:00", dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_explicit_due_on_dst_sundays(local, expected_utc):
    text = course_with("  - {date: 2026-11-03}", f"  - {{id: a, due: {local}}}")
    assert parse_course(text).due("a") == expected_utc


def test_skipped_hour_is_refused():
    with pytest.raises(calendar.LocalTimeError, match="does not exist in Europe/Berlin"):
        calendar.parse_local("2026-03-29 02:30", BERLIN)


def test_repeated_hour_is_refused_naming_both_readings():
    """Consistent with the skipped hour: a time that happens twice is an error, not silently
    its first occurrence (issue 23, item 14)."""
    with pytest.raises(calendar.LocalTimeError) as refused:
        calendar.parse_local("2026-10-25 02:30", BERLIN)
    assert str(refused.value) == (
        "2026-10-25 02:30 happens twice in Europe/Berlin (clocks go back then): 02:30+0200 "
        "(00:30 UTC) or 02:30+0100 (01:30 UTC); give the offset, e.g. '2026-10-25 02:30+01:00'")
    text = course_with("  - {date: 2026-11-03}", "  - {id: a, due: 2026-10-25 02:30}")
    with pytest.raises(CourseFileError, match="assignments.0..due: .*happens twice"):
        parse_course(text)


def test_other_zones_use_their_own_rules():
    # US clocks change on the second Sunday of March (2026-03-08), Europe's three weeks later.
    text = course_with('  - {date: 2026-03-10, start: "09:00"}', "  - {id: a, for_session: 1}",
                       zone="America/New_York")
    assert parse_course(text).due("a") == dt.datetime(2026, 3, 8, 22, 0, tzinfo=UTC)


def test_rule_is_strictly_before_the_session():
    sunday_evening = calendar.localize(dt.datetime(2026, 11, 1, 19, 0), BERLIN)
    sunday_noon = calendar.localize(dt.datetime(2026, 11, 1, 12, 0), BERLIN)
    six_pm = dt.time(18, 0)
    assert calendar.weekday_before(sunday_evening, "sunday", six_pm, BERLIN).day == 1
    assert calendar.weekday_before(sunday_noon, "sunday", six_pm, BERLIN).day == 25
    exactly = calendar.localize(dt.datetime(2026, 11, 1, 18, 0), BERLIN)
    assert calendar.weekday_before(exactly, "sunday", six_pm, BERLIN).day == 25


def test_iso_formats():
    moment = dt.datetime(2026, 10, 25, 17, 0, tzinfo=UTC)
    assert calendar.iso_utc(moment) == "2026-10-25T17:00:00Z"
    assert calendar.iso_local(moment, BERLIN) == "2026-10-25T18:00:00+01:00"

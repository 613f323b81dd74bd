"""The demo's term is laid out around the moment it runs: the same standing on any day.

Judged from the demo's own script (``scripted_handins``, extensions, excuses, releases) with the
real policy, at moments years apart, on every hour of the weeks around daylight-saving changes,
and on every weekday. No clock is read: each moment is an input.
"""

import datetime as dt
import functools

import pytest

from course.coursefile import parse_course
from course.policy import Facts, judge
from devhub.demo import (
    DEMO_ASSIGNMENTS,
    EXCUSES,
    EXTENSIONS,
    demo_course_file,
    released_by,
    scripted_handins,
)

SCRIPTED = [aid for aid, _title in DEMO_ASSIGNMENTS]
EXPECTED = {  # student: (states of the two scripted assignments, status)
    "ada": (["on_time", "on_time"], "ok"),
    "ben": (["on_time", "on_time"], "ok"),
    "cleo": (["on_time", "late"], "at_risk"),
    "dan": (["missing", "missing"], "exclude"),
    "eve": (["on_time", "extended"], "ok"),
    "finn": (["on_time", "on_time"], "ok"),
    "gus": (["excused", "on_time"], "ok"),
    "hana": (["missing", "on_time"], "at_risk"),
}


parsed = functools.lru_cache(maxsize=None)(parse_course)  # one layout serves a whole week


def demo_standing(now: dt.datetime):
    course = parsed(demo_course_file(now))
    facts = Facts(releases={a.id: a.release for a in released_by(course, now)})
    for handin in scripted_handins(course):
        if handin.kind != "malformed":  # refused at submit: never a receipt
            facts.receipts.setdefault((handin.student_id, handin.assignment_id), []).append(
                handin.received_at)
    for (student, assignment_id), (extra, _reason) in EXTENSIONS.items():
        facts.extensions[(student, assignment_id)] = course.due(assignment_id) + extra
    for pair, reason in EXCUSES.items():
        facts.excuses[pair] = reason
    return course, judge(course, facts, now)


def check(now: dt.datetime) -> None:
    course, standings = demo_standing(now)
    for standing in standings:
        states, status = EXPECTED[standing.student_id]
        assert [standing.results[a].state for a in SCRIPTED] == states, (now, standing)
        assert standing.status == status, (now, standing)
        if status == "exclude":
            assert standing.status_text.startswith("must be excluded by"), now
        later = [r.state for a, r in standing.results.items() if a not in SCRIPTED]
        # the next assignment is released and open, the rest not yet released
        assert later[0] == "pending" and set(later[1:]) == {"not_released"}, (now, later)
        for result in standing.results.values():
            assert result.received is None or result.received < now
    for handin in scripted_handins(course):
        assert handin.received_at < now
    assert all(ext_due < now for ext_due in
               (course.due(a) + extra for (_s, a), (extra, _r) in EXTENSIONS.items()))
    # the next deadline is days ahead, so the standing cannot change during a demo run
    assert course.due(course.assignments[len(SCRIPTED)].id) - now > dt.timedelta(days=3)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize("start", [utc(2026, 11, 29), utc(2026, 12, 1, 11), utc(2029, 6, 14),
                                   utc(2031, 1, 5, 23, 59)])
def test_every_hour_of_a_week(start):
    for hour in range(0, 7 * 24, 1):
        check(start + dt.timedelta(hours=hour, minutes=17))


@pytest.mark.parametrize("dst_change", [
    utc(2027, 3, 28, 1),   # Berlin springs forward
    utc(2027, 10, 31, 1),  # and falls back
    utc(2030, 3, 31, 1),
    utc(2030, 10, 27, 1),
])
def test_every_hour_around_a_daylight_saving_change(dst_change):
    for hour in range(-14 * 24, 14 * 24, 2):
        check(dst_change + dt.timedelta(hours=hour))


def test_years_apart():
    moment = utc(2026, 12, 1, 12)
    for _ in range(3 * 52 * 2):  # every 3.5 days for three years
        check(moment)
        moment += dt.timedelta(days=3, hours=12, minutes=7)


def test_the_demo_before_the_fix_would_fail_today():
    """The day main went red: a Tuesday after the third deadline of the old layout."""
    check(utc(2026, 11, 29, 17, 30))
    check(utc(2026, 12, 1, 9))

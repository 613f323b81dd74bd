"""One home each for the effective deadline (due, or a student's extension) and the end of the
withdrawal day (``course.policy``); every instant is given, none read from a clock."""

import datetime as dt

import pytest

from course.coursefile import parse_course
from course.policy import Facts, effective_deadline, judge, withdrawal_ends

UTC = dt.UTC
DUE = dt.datetime(2030, 1, 6, 17, 0, tzinfo=UTC)


def test_an_extension_moves_the_deadline_later_never_earlier():
    assert effective_deadline(DUE, None) == DUE
    assert effective_deadline(DUE, DUE + dt.timedelta(days=2)) == DUE + dt.timedelta(days=2)
    assert effective_deadline(DUE, DUE - dt.timedelta(days=2)) == DUE


def course(zone: str, withdrawal: str):
    return parse_course(f"""\
id: c
title: C
timezone: {zone}
withdrawal_deadline: {withdrawal}
policy: {{excused_misses: 0}}
assignments:
  - {{id: a1, release: 2026-01-01 12:00, due: 2026-01-02 18:00}}
roster:
  students:
    - {{id: ada}}
""")


@pytest.mark.parametrize(("zone", "withdrawal"), [
    ("Europe/Berlin", "2026-12-15"),
    ("America/Santiago", "2026-09-05"),  # the next midnight is skipped (clocks jump to 01:00)
    ("America/Santiago", "2026-04-04"),  # clocks go back from 24:00 to 23:00 that night
    ("Asia/Beirut", "2026-10-24"),  # back from 24:00 to 23:00: the 24th lasts an hour longer
])
def test_the_withdrawal_day_ends_when_its_date_is_over_in_the_course_zone(zone, withdrawal):
    c = course(zone, withdrawal)
    ends = withdrawal_ends(c)
    assert ends.utcoffset() == dt.timedelta(0)
    start = ends - dt.timedelta(hours=4)
    for minute in range(8 * 60):
        moment = start + dt.timedelta(minutes=minute)
        assert (moment < ends) == (moment.astimezone(c.zone).date() <= c.withdrawal_deadline)


def test_the_policy_says_must_be_excluded_until_the_withdrawal_day_ends():
    c = course("Europe/Berlin", "2026-12-15")
    ends = withdrawal_ends(c)
    assert ends == dt.datetime(2026, 12, 15, 23, 0, tzinfo=UTC)  # midnight in Berlin (UTC+1)
    facts = Facts(releases={"a1": dt.datetime(2026, 1, 1, 11, 0, tzinfo=UTC)})  # a1: missed
    before, = judge(c, facts, ends - dt.timedelta(seconds=1))
    after, = judge(c, facts, ends)
    assert before.status == after.status == "exclude"
    assert before.status_text == "must be excluded by 2026-12-15"
    assert after.status_text == "exclude (withdrawal deadline 2026-12-15 has passed)"

"""Each policy state and status, judged from plain facts (no database, no clock)."""

import datetime as dt

import pytest
from conftest import BASE_COURSE, utc

from course.coursefile import parse_course
from course.policy import Facts, judge, pick_receipt

COURSE = parse_course(BASE_COURSE)
DUE1 = COURSE.due("01-numpy")  # 2026-10-25 17:00 UTC
DUE2 = COURSE.due("02-linreg")  # 2026-11-01 17:00 UTC
AFTER_BOTH = utc(2026, 11, 10)
HOUR = dt.timedelta(hours=1)


def standing(facts: Facts, student="ada", as_of=AFTER_BOTH, course=COURSE):
    return next(s for s in judge(course, facts, as_of) if s.student_id == student)


def on_time_everywhere(*students):
    facts = Facts()
    for student in students:
        facts.receipts[(student, "01-numpy")] = [DUE1 - HOUR]
        facts.receipts[(student, "02-linreg")] = [DUE2 - HOUR]
    return facts


def test_on_time_at_the_deadline_itself():
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1]
    result = standing(facts).results["01-numpy"]
    assert (result.state, result.counts_as_miss, result.received) == ("on_time", False, DUE1)


def test_late_counts_as_miss_by_default():
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1 + dt.timedelta(seconds=1)]
    s = standing(facts)
    assert s.results["01-numpy"].state == "late"
    assert s.results["01-numpy"].counts_as_miss
    assert (s.misses, s.status, s.status_text) == (1, "at_risk", "one more miss means exclusion")


def test_late_accepted_policy():
    course = parse_course(BASE_COURSE.replace("policy: {excused_misses: 1}",
                                              "policy: {excused_misses: 1, late: accepted}"))
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1 + HOUR]
    s = standing(facts, course=course)
    assert s.results["01-numpy"].state == "late" and not s.results["01-numpy"].counts_as_miss
    assert s.status == "ok"


def test_extended_uses_the_effective_deadline():
    facts = on_time_everywhere("ada")
    facts.extensions[("ada", "01-numpy")] = DUE1 + 48 * HOUR
    facts.receipts[("ada", "01-numpy")] = [DUE1 + 24 * HOUR]
    result = standing(facts).results["01-numpy"]
    assert result.state == "extended" and not result.counts_as_miss
    assert result.effective_due == DUE1 + 48 * HOUR and result.due == DUE1


def test_late_even_with_extension():
    facts = on_time_everywhere("ada")
    facts.extensions[("ada", "01-numpy")] = DUE1 + 2 * HOUR
    facts.receipts[("ada", "01-numpy")] = [DUE1 + 3 * HOUR]
    assert standing(facts).results["01-numpy"].state == "late"


def test_missing_and_pending():
    facts = on_time_everywhere("ada")
    del facts.receipts[("ada", "02-linreg")]
    before_due2 = DUE2 - HOUR
    assert standing(facts, as_of=before_due2).results["02-linreg"].state == "pending"
    assert standing(facts, as_of=before_due2).misses == 0
    assert standing(facts).results["02-linreg"].state == "missing"
    assert standing(facts).misses == 1
    # an extension keeps it pending until the extended deadline
    facts.extensions[("ada", "02-linreg")] = DUE2 + 24 * HOUR
    assert standing(facts, as_of=DUE2 + HOUR).results["02-linreg"].state == "pending"


def test_excused_is_not_a_miss():
    facts = on_time_everywhere("ada")
    del facts.receipts[("ada", "01-numpy")]
    facts.excuses[("ada", "01-numpy")] = "illness"
    s = standing(facts)
    assert s.results["01-numpy"].state == "excused"
    assert (s.misses, s.excused, s.status) == (0, 1, "ok")
    assert "illness" in s.results["01-numpy"].note


def test_two_misses_mean_exclusion_with_the_withdrawal_date():
    s = standing(Facts())
    assert s.misses == 2 and s.status == "exclude"
    assert s.status_text == "must be excluded by 2026-12-01"
    after = standing(Facts(), as_of=utc(2026, 12, 2))
    assert after.status == "exclude" and "has passed" in after.status_text


def test_exclusion_threshold_follows_the_policy():
    course = parse_course(BASE_COURSE.replace("excused_misses: 1", "excused_misses: 2"))
    assert standing(Facts(), course=course).status == "at_risk"
    course0 = parse_course(BASE_COURSE.replace("excused_misses: 1", "excused_misses: 0"))
    facts = on_time_everywhere("ada")
    assert standing(facts, course=course0).status == "ok"
    del facts.receipts[("ada", "01-numpy")]
    assert standing(facts, course=course0).status == "exclude"


def test_pass_threshold_turns_a_weak_submission_into_a_miss():
    course = parse_course(BASE_COURSE.replace("policy: {excused_misses: 1}",
                                              "policy: {excused_misses: 1, pass_threshold: 0.5}"))
    facts = on_time_everywhere("ada")
    facts.scores[("ada", "01-numpy")] = (4.0, 10.0)
    facts.scores[("ada", "02-linreg")] = (5.0, 10.0)
    s = standing(facts, course=course)
    assert s.results["01-numpy"].state == "on_time" and s.results["01-numpy"].counts_as_miss
    assert "below the pass threshold of 50%" in s.results["01-numpy"].note
    assert not s.results["02-linreg"].counts_as_miss  # exactly at the threshold passes
    # with the default threshold 0 any on-time submission counts
    assert standing(facts).misses == 0


def test_grading_error_is_reported_not_scored():
    facts = on_time_everywhere("ada")
    facts.grading_errors[("ada", "01-numpy")] = "numpy-basics.ipynb is not valid JSON"
    result = standing(facts).results["01-numpy"]
    assert result.score is None and result.note.startswith("grading failed: ")


def test_resubmission_after_deadline_keeps_the_on_time_one():
    received = [DUE1 - 2 * HOUR, DUE1 - HOUR, DUE1 + HOUR]
    assert pick_receipt(received, DUE1) == DUE1 - HOUR
    assert pick_receipt([DUE1 + 2 * HOUR, DUE1 + HOUR], DUE1) == DUE1 + 2 * HOUR
    assert pick_receipt([], DUE1) is None
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = received
    assert standing(facts).results["01-numpy"].state == "on_time"


@pytest.mark.parametrize("student", ["ada", "ben", "cleo"])
def test_every_rostered_student_is_judged_in_roster_order(student):
    standings = judge(COURSE, on_time_everywhere(student), AFTER_BOTH)
    assert [s.student_id for s in standings] == ["ada", "ben", "cleo"]
    assert {s.student_id: s.status for s in standings}[student] == "ok"

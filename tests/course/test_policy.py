"""Each policy state and status, judged from plain facts (no database, no clock)."""

import datetime as dt

import pytest
from small_courses import BASE_COURSE, utc

from course.coursefile import parse_course
from course.policy import Facts, Graded, GradingError, judge, pick_receipt, release_warnings

COURSE = parse_course(BASE_COURSE)
DUE1 = COURSE.due("01-numpy")  # 2026-10-25 17:00 UTC
DUE2 = COURSE.due("02-linreg")  # 2026-11-01 17:00 UTC
AFTER_BOTH = utc(2026, 11, 10)
HOUR = dt.timedelta(hours=1)
RELEASED = {a.id: utc(2026, 10, 1) for a in COURSE.assignments}


def released(**fields) -> Facts:
    """Facts of a course whose assignments were all released on 1 October."""
    return Facts(releases=dict(RELEASED), **fields)


def standing(facts: Facts, student="ada", as_of=AFTER_BOTH, course=COURSE):
    return next(s for s in judge(course, facts, as_of) if s.student_id == student)


def on_time_everywhere(*students):
    facts = released()
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
    s = standing(released())
    assert s.misses == 2 and s.status == "exclude"
    assert s.status_text == "must be excluded by 2026-12-01"
    after = standing(released(), as_of=utc(2026, 12, 2))
    assert after.status == "exclude" and "has passed" in after.status_text


def test_exclusion_threshold_follows_the_policy():
    course = parse_course(BASE_COURSE.replace("excused_misses: 1", "excused_misses: 2"))
    assert standing(released(), course=course).status == "at_risk"
    course0 = parse_course(BASE_COURSE.replace("excused_misses: 1", "excused_misses: 0"))
    facts = on_time_everywhere("ada")
    assert standing(facts, course=course0).status == "ok"
    del facts.receipts[("ada", "01-numpy")]
    assert standing(facts, course=course0).status == "exclude"


def test_pass_threshold_turns_a_weak_submission_into_a_miss():
    course = parse_course(BASE_COURSE.replace("policy: {excused_misses: 1}",
                                              "policy: {excused_misses: 1, pass_threshold: 0.5}"))
    facts = on_time_everywhere("ada")
    facts.scores[("ada", "01-numpy")] = Graded(4.0, 10.0, DUE1 - HOUR)
    facts.scores[("ada", "02-linreg")] = Graded(5.0, 10.0, DUE2 - HOUR)
    s = standing(facts, course=course)
    assert s.results["01-numpy"].state == "on_time" and s.results["01-numpy"].counts_as_miss
    assert "below the pass threshold of 50%" in s.results["01-numpy"].note
    assert not s.results["02-linreg"].counts_as_miss  # exactly at the threshold passes
    # with the default threshold 0 any on-time submission counts
    assert standing(facts).misses == 0


def test_grading_error_is_reported_not_scored():
    facts = on_time_everywhere("ada")
    facts.grading_errors[("ada", "01-numpy")] = GradingError(
        "numpy-basics.ipynb is not valid JSON", DUE1 - HOUR, unreadable=True)
    result = standing(facts).results["01-numpy"]
    assert result.score is None and result.note.startswith("grading failed: ")
    assert result.grading_error == "numpy-basics.ipynb is not valid JSON"


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


def test_a_never_released_assignment_is_nobodys_miss():
    facts = on_time_everywhere("ben")
    del facts.releases["02-linreg"]
    s = standing(facts)
    assert s.results["02-linreg"].state == "not_released"
    assert not s.results["02-linreg"].counts_as_miss
    assert "never released" in s.results["02-linreg"].note
    assert (s.misses, s.status) == (1, "at_risk")  # 01-numpy is still missing
    # a submission that arrived anyway (by hand) is judged as usual
    assert standing(facts, "ben").results["02-linreg"].state == "on_time"
    warnings = release_warnings(COURSE, facts.releases, AFTER_BOTH)
    assert len(warnings) == 1 and warnings[0].startswith("02-linreg: the deadline passed")
    assert release_warnings(COURSE, facts.releases, DUE2 - HOUR) == []


def test_released_only_from_the_release_time():
    facts = on_time_everywhere()
    facts.releases["02-linreg"] = DUE2 + HOUR  # released an hour after the deadline
    assert standing(facts, as_of=DUE2 + HOUR / 2).results["02-linreg"].state == "not_released"
    assert standing(facts, as_of=DUE2 + 2 * HOUR).results["02-linreg"].state == "missing"


def test_a_submission_received_after_as_of_does_not_count_yet():
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1 - HOUR]
    result = standing(facts, as_of=DUE1 - 2 * HOUR).results["01-numpy"]
    assert (result.state, result.received) == ("pending", None)


def test_a_score_belongs_to_its_submission():
    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1 - 3 * HOUR, DUE1 - HOUR]  # handed in again
    facts.scores[("ada", "01-numpy")] = Graded(9.0, 10.0, DUE1 - 3 * HOUR)  # the old one's
    result = standing(facts).results["01-numpy"]
    assert result.received == DUE1 - HOUR and result.score is None
    assert "not graded yet" in result.note
    facts.scores[("ada", "01-numpy")] = Graded(7.0, 10.0, DUE1 - HOUR)
    result = standing(facts).results["01-numpy"]
    assert (result.score, result.max_score, result.note) == (7.0, 10.0, "")


@pytest.mark.parametrize(("threshold", "unreadable", "miss"), [
    (0.5, True, True),    # an unreadable notebook scores 0: below the threshold
    (0.0, True, False),   # no threshold: handing in on time is enough
    (0.5, False, False),  # the platform failed: never held against the student
])
def test_ungradable_submissions(threshold, unreadable, miss):
    course = parse_course(BASE_COURSE.replace(
        "policy: {excused_misses: 1}", f"policy: {{excused_misses: 1, pass_threshold: {threshold}}}"))
    facts = on_time_everywhere("ada")
    facts.grading_errors[("ada", "01-numpy")] = GradingError("why", DUE1 - HOUR, unreadable)
    result = standing(facts, course=course).results["01-numpy"]
    assert result.counts_as_miss is miss and result.grading_error == "why"


def test_a_grading_error_of_another_submission_is_ignored():
    facts = on_time_everywhere("ada")
    facts.grading_errors[("ada", "01-numpy")] = GradingError("old", DUE1 - 5 * HOUR, True)
    result = standing(facts).results["01-numpy"]
    assert result.grading_error is None and "grading failed" not in result.note


THRESHOLD_COURSE = parse_course(BASE_COURSE.replace(
    "policy: {excused_misses: 1}", "policy: {excused_misses: 1, pass_threshold: 0.5}"))
SET_AT = utc(2026, 11, 20, 9)


def test_an_override_replaces_the_graded_score_against_the_pass_threshold():
    from course.policy import Override

    facts = on_time_everywhere("ada")
    facts.scores[("ada", "01-numpy")] = Graded(4.0, 10.0, DUE1 - HOUR)  # below: a miss
    facts.scores[("ada", "02-linreg")] = Graded(9.0, 10.0, DUE2 - HOUR)
    before = standing(facts, course=THRESHOLD_COURSE)
    assert before.results["01-numpy"].counts_as_miss and before.results["01-numpy"].override is None
    facts.overrides[("ada", "01-numpy")] = Override(6.0, "regrade after appeal", "ina", SET_AT)
    facts.overrides[("ada", "02-linreg")] = Override(7.0, "copied parts", "ina", SET_AT, 20.0)
    s = standing(facts, course=THRESHOLD_COURSE)
    first, second = s.results["01-numpy"], s.results["02-linreg"]
    assert (first.score, first.max_score, first.counts_as_miss) == (6.0, 10.0, False)
    assert first.override == "set by ina on 2026-11-20: regrade after appeal"
    assert "graded 4/10" in first.note and "below" not in first.note
    # the override's own max score: 7/20 is below 50 %
    assert (second.score, second.max_score, second.counts_as_miss) == (7.0, 20.0, True)
    assert "score 7/20 is below the pass threshold of 50%" in second.note
    assert (s.misses, s.status) == (1, "at_risk")


def test_an_override_applies_whatever_submission_counts_even_ungraded():
    from course.policy import Override

    facts = on_time_everywhere("ada")
    facts.receipts[("ada", "01-numpy")] = [DUE1 - 3 * HOUR, DUE1 - HOUR]  # handed in again
    facts.scores[("ada", "01-numpy")] = Graded(2.0, 10.0, DUE1 - 3 * HOUR)  # the old one's
    facts.overrides[("ada", "01-numpy")] = Override(8.0, "graded by hand", "ina", SET_AT)
    # nothing graded at all, and the platform could not read the notebook either
    facts.grading_errors[("ada", "02-linreg")] = GradingError("not JSON", DUE2 - HOUR, True)
    facts.overrides[("ada", "02-linreg")] = Override(5.0, "read by hand", "ina", SET_AT, 10.0)
    s = standing(facts, course=THRESHOLD_COURSE)
    first, second = s.results["01-numpy"], s.results["02-linreg"]
    assert (first.received, first.score, first.max_score) == (DUE1 - HOUR, 8.0, 10.0)
    assert "not graded yet" not in first.note and "graded by hand" in first.note
    assert (second.score, second.max_score, second.counts_as_miss) == (5.0, 10.0, False)
    assert second.grading_error == "not JSON"  # still reported
    # nothing received: the score set by hand is work that came another way
    del facts.receipts[("ada", "02-linreg")]
    by_hand = standing(facts, course=THRESHOLD_COURSE).results["02-linreg"]
    assert (by_hand.state, by_hand.score, by_hand.counts_as_miss) == ("by_hand", 5.0, False)


def test_a_score_set_by_hand_with_nothing_received_is_work_handed_in_another_way():
    from course.policy import Override

    facts = released()
    facts.max_points = {"01-numpy": 10.0, "02-linreg": 10.0}
    facts.overrides[("ada", "01-numpy")] = Override(6.0, "on paper", "ina", SET_AT)
    facts.overrides[("ada", "02-linreg")] = Override(4.0, "by email", "ina", SET_AT)
    s = standing(facts, course=THRESHOLD_COURSE)
    first, second = s.results["01-numpy"], s.results["02-linreg"]
    assert (first.state, first.score, first.max_score, first.counts_as_miss) == \
        ("by_hand", 6.0, 10.0, False)  # out of the assignment's points
    assert "nothing received on the platform" in first.note and "on paper" in first.note
    # judged like any hand-in: 4/10 is below the pass threshold of 50 %
    assert (second.state, second.counts_as_miss) == ("by_hand", True)
    assert "below the pass threshold" in second.note
    assert (s.misses, s.points, s.max_points) == (1, 10.0, 20.0)
    # before the deadline too; an excuse still wins
    early = standing(facts, as_of=DUE1 - HOUR, course=THRESHOLD_COURSE).results["01-numpy"]
    assert early.state == "by_hand"
    facts.excuses[("ada", "01-numpy")] = "ill"
    assert standing(facts).results["01-numpy"].state == "excused"


def test_points_count_a_missed_assignment_out_of_its_points():
    facts = on_time_everywhere("ada", "ben")
    facts.max_points = {"01-numpy": 10.0, "02-linreg": 8.0}
    facts.scores[("ada", "02-linreg")] = Graded(8.0, 8.0, DUE2 - HOUR)
    del facts.receipts[("ada", "01-numpy")]  # ada: missed 01-numpy, 8/8 on 02-linreg
    facts.grading_errors[("ben", "01-numpy")] = GradingError("not JSON", DUE1 - HOUR, True)
    facts.grading_errors[("ben", "02-linreg")] = GradingError("crashed", DUE2 - HOUR)
    ada, ben = standing(facts), standing(facts, student="ben")
    assert (ada.results["01-numpy"].points, ada.results["01-numpy"].max_points) == (0.0, 10.0)
    assert (ada.points, ada.max_points) == (8.0, 18.0)
    # an unreadable notebook counts 0 of its points; a failed grading counts in neither
    assert (ben.results["02-linreg"].points, ben.results["02-linreg"].max_points) == (None, None)
    assert (ben.points, ben.max_points) == (0.0, 10.0)
    # before any deadline nothing counts: 0 of 0
    early = standing(facts, as_of=DUE1 - 2 * HOUR)
    assert (early.points, early.max_points) == (0.0, 0.0)

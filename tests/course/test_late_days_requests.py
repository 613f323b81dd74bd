"""Late days spent on request, a partial budget, a per-assignment maximum of submissions, and
the penalty and late days shown wherever the score goes (issue 27, item 1). Judged from
injected facts through the policy engine, then through the library and the CLI on a real
gradebook. Every "now" is injected."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from small_courses import BASE_COURSE, utc

import course.history
from commands.main import main
from course import calendar
from course.coursefile import CourseFileError, parse_course
from course.errors import UserError
from course.gradebook.models import LateDayRequest
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.history import history_json, student_history
from course.inbox import TooManySubmissions, check_submission_count
from course.late_days import account, spend, withdraw
from course.late_rules import late_rule
from course.policy import Facts, Graded, days_to_spend, honoured_requests, judge
from course.receipt_notice import receipt_notice
from course.reports import status_html
from course.standing import standing_data
from course.workspace import open_workspace
from dashboard.pages import standing_rows

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
POLICY = "policy: {excused_misses: 1}"  # line 13 of BASE_COURSE
WINDOW = ("late: {rule: window, penalty: [{after: 0h, percent: 10}, {after: 24h, percent: 25}], "
          "cutoff: 72h}")
ON_REQUEST = "late_days: {budget: 2, spend: on_request}"
A1, A2 = "01-numpy", "02-linreg"  # due 2026-10-25 18:00 and 2026-11-01 18:00 (Berlin)


def course_with(policy: str):
    return parse_course(BASE_COURSE.replace(POLICY, f"policy: {{excused_misses: 1, {policy}}}"))


def released(course) -> Facts:
    return Facts(releases={a.id: utc(2026, 10, 1) for a in course.assignments})


def hand_in(facts: Facts, course, student: str, assignment: str, late_by: dt.timedelta,
            score: float | None = None) -> None:
    received = course.due(assignment) + late_by
    facts.receipts.setdefault((student, assignment), []).append(received)
    if score is not None:
        facts.scores[(student, assignment)] = Graded(score, 10.0, received)


AS_OF = utc(2026, 11, 20)


def standing(course, facts, student="ada", as_of=AS_OF):
    return next(s for s in judge(course, facts, as_of) if s.student_id == student)


# the course file ------------------------------------------------------------------------------

def test_late_days_n_stays_automatic_and_the_mapping_names_the_switch():
    plain = course_with("late_days: 3").policy
    assert (plain.late_days, plain.late_day_budget, plain.late_days_on_request) == (3, 3, False)
    asked = course_with(ON_REQUEST).policy
    assert (asked.late_day_budget, asked.late_days_on_request) == (2, True)
    assert asked.model_dump(mode="json")["late_days"] == {"budget": 2, "spend": "on_request"}
    auto = course_with("late_days: {budget: 2}").policy
    assert (auto.late_day_budget, auto.late_days_on_request) == (2, False)


@pytest.mark.parametrize("policy, field, message", [
    ("policy: {late_days: {budget: 2, spend: often}}", "policy.late_days.spend",
     "'automatic' or 'on_request'"),
    ("policy: {late_days: {budgt: 2}}", "policy.late_days.budgt",
     "did you mean 'budget'?"),
    ("policy: {late_days: {budget: -1}}", "policy.late_days.budget",
     "greater than or equal to 0"),
    ("policy: {late_days: lots}", "policy.late_days",
     "should be a number of days, or {budget: N, spend: automatic | on_request}"),
])
def test_a_bad_late_days_is_an_error_at_its_line(policy, field, message):
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace(POLICY, policy), "course.yml")
    error = next(e for e in caught.value.errors if e.field == field)
    assert error.line == 13 and message in error.message


def test_an_assignments_max_submissions_overrides_the_courses():
    text = BASE_COURSE.replace(POLICY, "policy: {excused_misses: 1, max_submissions: 5}")
    text = text.replace("{id: 01-numpy, title: NumPy,", "{id: 01-numpy, title: NumPy, "
                        "max_submissions: 2,")
    course = parse_course(text)
    assert course.submission_limit(A1) == (2, "max_submissions of 01-numpy")
    assert course.submission_limit(A2) == (5, "policy.max_submissions")
    assert parse_course(BASE_COURSE).submission_limit(A1) == (None, "policy.max_submissions")
    with pytest.raises(CourseFileError) as caught:
        parse_course(text.replace("max_submissions: 2,", "max_submissions: 0,"), "course.yml")
    assert caught.value.field == "assignments[0].max_submissions"


# the policy, with injected facts -----------------------------------------------------------

def test_days_asked_for_move_the_deadline_and_cover_the_hand_in_unpenalised():
    course = course_with(f"{ON_REQUEST}, {WINDOW}")
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 1
    hand_in(facts, course, "ada", A1, 5 * HOUR, score=10.0)
    s = standing(course, facts)
    result = s.results[A1]
    assert (result.state, result.counts_as_miss, result.score, result.penalty) == \
        ("late", False, 10.0, None)
    assert (result.late_days, s.late_days_used, s.late_days_left) == (1, 1, 1)
    assert "1 late day asked for: deadline 2026-10-26 18:00 (1 of 2 left)" in result.note
    assert "covered by the late days asked for" in result.note


def test_on_request_nothing_is_spent_unasked_and_the_base_rule_judges():
    course = course_with(f"{ON_REQUEST}, {WINDOW}")
    facts = released(course)
    hand_in(facts, course, "ada", A1, 5 * HOUR, score=10.0)
    s = standing(course, facts)
    assert (s.results[A1].late_days, s.results[A1].score, s.late_days_left) == (0, 9.0, 2)


def test_days_asked_for_that_do_not_reach_shrink_the_lateness_the_rule_judges():
    course = course_with(f"{ON_REQUEST}, {WINDOW}")
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 1
    hand_in(facts, course, "ada", A1, 30 * HOUR, score=10.0)  # 6 h past the day asked for
    result = standing(course, facts).results[A1]
    assert (result.late_days, result.score, result.penalty_percent) == (1, 9.0, 10.0)
    assert result.penalty == "late by 6 h 0 min: -10 %"
    assert "the 1 late day asked for cover 1 day 0 h, the late rule judges the 6 h 0 min after" \
        in result.note


def test_nothing_handed_in_is_pending_until_the_days_asked_for_end_then_missing():
    course = course_with(ON_REQUEST)
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 2
    due = course.due(A1)
    assert standing(course, facts, as_of=due + 47 * HOUR).results[A1].state == "pending"
    assert standing(course, facts, as_of=due + 2 * DAY + HOUR).results[A1].state == "missing"
    assert standing(course, facts, "ben", as_of=due + HOUR).results[A1].state == "missing"


def test_days_asked_for_are_spent_even_when_the_work_came_in_time():
    course = course_with(ON_REQUEST)
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 1
    hand_in(facts, course, "ada", A1, -HOUR, score=10.0)
    s = standing(course, facts)
    assert (s.results[A1].state, s.results[A1].late_days, s.late_days_left) == ("on_time", 1, 1)


def test_the_latest_hand_in_within_the_days_asked_for_counts_over_an_earlier_one():
    course = course_with(ON_REQUEST)
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 1
    hand_in(facts, course, "ada", A1, -HOUR)
    hand_in(facts, course, "ada", A1, 20 * HOUR)
    assert standing(course, facts).results[A1].received == course.due(A1) + 20 * HOUR


def test_a_forged_budget_in_the_requests_is_never_honoured_past_the_course_file():
    course = course_with(ON_REQUEST)
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 2
    facts.late_day_requests[("ada", A2)] = 5  # more than the budget: the first comes first
    facts.late_day_requests[("ben", A2)] = 99
    assert honoured_requests(course, facts.late_day_requests) == {("ada", A1): 2,
                                                                  ("ben", A2): 2}
    s = standing(course, facts)
    assert (s.results[A1].late_days, s.results[A2].late_days, s.late_days_left) == (2, 0, 0)
    assert standing(course, facts, "ben").late_days_left == 0
    assert honoured_requests(course_with("late_days: 2"), facts.late_day_requests) == {}


def test_a_partial_budget_is_spent_where_it_lowers_the_penalty():
    course = course_with(f"late_days: 1, {WINDOW}")
    facts = released(course)
    hand_in(facts, course, "ada", A1, 30 * HOUR, score=10.0)  # needs 2, 1 left: 25 % -> 10 %
    s = standing(course, facts)
    result = s.results[A1]
    assert (result.late_days, result.score, result.penalty) == (1, 9.0, "late by 6 h 0 min: -10 %")
    assert ("late by 1 day 6 h: 2 late days needed, 1 left; 1 late day spent (0 of 1 left), "
            "the late rule judges the remaining 6 h 0 min") in result.note
    assert s.late_days_left == 0


def test_a_partial_budget_turns_a_miss_past_the_cut_off_into_counted_work():
    course = course_with(f"late_days: 2, {WINDOW}")
    facts = released(course)
    hand_in(facts, course, "ada", A1, 4 * DAY + HOUR, score=10.0)  # 97 h: past 72 h
    result = standing(course, facts).results[A1]
    assert (result.counts_as_miss, result.late_days, result.score) == (False, 2, 7.5)


def test_a_partial_budget_that_cannot_help_is_kept_for_later_work():
    course = course_with("late_days: 1")  # late: missed
    facts = released(course)
    hand_in(facts, course, "ada", A1, 30 * HOUR, score=10.0)  # needs 2: a miss either way
    hand_in(facts, course, "ada", A2, 5 * HOUR, score=10.0)  # the day kept covers this
    s = standing(course, facts)
    assert (s.results[A1].counts_as_miss, s.results[A1].late_days) == (True, 0)
    assert (s.results[A2].counts_as_miss, s.results[A2].late_days) == (False, 1)


def test_days_to_spend_takes_the_fewest_days_for_the_best_decision():
    rule = late_rule(course_with(WINDOW).policy.late)
    assert days_to_spend(rule, 50 * HOUR, 3) == 2  # 2 h left: 10 %; one day: 26 h, still 25 %
    assert days_to_spend(rule, 30 * HOUR, 3) == 1
    assert days_to_spend(rule, 5 * HOUR, 3) == 0  # covered whole is not a partial budget
    assert days_to_spend(late_rule("missed"), 50 * HOUR, 1) == 0


# on a gradebook: spending, withdrawing, the CLI ----------------------------------------------

@pytest.fixture
def ws(make_course):
    root = make_course(BASE_COURSE.replace(
        POLICY, f"policy: {{excused_misses: 1, {ON_REQUEST}, {WINDOW}}}"))
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for assignment in (A1, A2):
            record_release(gb, assignment, "0" * 64, now=utc(2026, 10, 19, 12))
        gb.commit()
    return ws


def _requests(ws) -> list[tuple]:
    with ws.gradebook() as gb:
        return [(r.student_id, r.assignment_id, r.days, r.requested_by, r.withdrawn_at is None)
                for r in gb.session.query(LateDayRequest).order_by(LateDayRequest.id)]


def test_spend_records_who_asked_and_the_policy_reads_it(ws):
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - HOUR, by="ada")
        gb.commit()
    assert _requests(ws) == [("ada", A1, 1, "ada", True)]
    ada = next(s for s in standing_data(ws, due + HOUR)["students"] if s["id"] == "ada")
    assert (ada["late_days_left"], ada["assignments"][A1]["state"]) == (1, "pending")


@pytest.mark.parametrize("days, now, message", [
    (3, -HOUR, "3 late days asked for on 01-numpy, but ada has 2 of 2 left (none spent)"),
    (0, -HOUR, "ask for at least 1 late day (got 0)"),
    # late days are asked for before the deadline, never after it (feedback may be out)
    (1, dt.timedelta(seconds=1), ("too late: the deadline of 01-numpy passed Sun 2026-10-25 "
                                  "18:00 +0100 (Europe/Berlin); late days are asked for before "
                                  "the deadline")),
    (2, DAY + HOUR, "too late: the deadline of 01-numpy passed"),
    (2, 4 * DAY, "too late: the deadline of 01-numpy passed"),  # past the cut-off too
])
def test_a_request_the_rules_do_not_allow_is_refused_and_nothing_written(ws, days, now, message):
    with ws.gradebook() as gb, pytest.raises(UserError) as caught:
        spend(ws, gb, "ada", A1, days, now=ws.course.due(A1) + now, by="ada")
    assert message in str(caught.value)
    assert _requests(ws) == []


def test_the_budget_counts_the_days_spent_elsewhere_and_fewer_days_only_before_the_deadline(ws):
    due1, due2 = ws.course.due(A1), ws.course.due(A2)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 2, now=due1 - HOUR, by="ada")
        gb.commit()
        with pytest.raises(UserError, match=r"but ada has 0 of 2 left \(2 on 01-numpy\)"):
            spend(ws, gb, "ada", A2, 1, now=due2 - DAY, by="ada")
        for more_or_fewer in (1, 3):
            with pytest.raises(UserError, match=r"passed .*\(the 2 late days asked for are "
                               r"spent\); late days are asked for before the deadline"):
                spend(ws, gb, "ada", A1, more_or_fewer, now=due1 + HOUR, by="ada")
        with pytest.raises(UserError, match="the 2 late days asked for are spent"):
            withdraw(ws, gb, "ada", A1, now=due1 + HOUR, by="ada")
        spend(ws, gb, "ben", A1, 2, now=due1 - HOUR, by="ina")  # staff for him
        withdraw(ws, gb, "ben", A1, now=due1 - 1 * HOUR, by="ben")  # before: back in the budget
        spend(ws, gb, "ben", A2, 2, now=due2 - HOUR, by="ben")
        gb.commit()
        from course.gradebook.records import gather_facts
        assert account(ws.course, gather_facts(gb, ws.course), "ben").spent == {A2: 2}


def test_a_course_that_spends_automatically_refuses_requests(make_course):
    ws = open_workspace(make_course(BASE_COURSE.replace(
        POLICY, "policy: {excused_misses: 1, late_days: 2}")))
    with ws.gradebook() as gb, pytest.raises(UserError, match="spends its late days "
                                             "automatically on late hand-ins"):
        spend(ws, gb, "ada", A1, 1, now=utc(2026, 10, 20), by="ada")


@pytest.fixture
def clock(monkeypatch):
    def set_to(moment: dt.datetime) -> None:
        monkeypatch.setattr(calendar, "utcnow", lambda: moment)
    return set_to


def test_the_cli_spends_withdraws_and_shows_for_staff(ws, clock, capsys):
    course_arg = ["--course", str(ws.course_file)]
    clock(ws.course.due(A1) - DAY)
    assert main(["late-days", "spend", "ada", A1, "--days", "2", *course_arg]) == 0
    assert "2 late days spent on 01-numpy for ada: deadline Tue 2026-10-27 18:00 +0100 " \
           "(Europe/Berlin); 0 of 2 left" in " ".join(capsys.readouterr().out.split())
    assert main(["late-days", "spend", "ada", A2, "--days", "1", *course_arg]) == 2
    assert "but ada has 0 of 2 left (2 on 01-numpy)" in " ".join(capsys.readouterr().err.split())
    assert main(["late-days", "withdraw", "ada", A1, "--reason", "done early",
                 *course_arg]) == 0
    assert "2 of 2 left" in capsys.readouterr().out
    assert main(["late-days", "spend", "ada", A1, "--days", "1", *course_arg]) == 0
    assert main(["late-days", "show", "ada", *course_arg]) == 0
    out = capsys.readouterr().out
    assert "ada: 1 of 2 late days left" in out and "withdrawn by ina: done early" in out
    assert _requests(ws) == [("ada", A1, 2, "ina", False), ("ada", A1, 1, "ina", True)]
    clock(ws.course.due(A1) + HOUR)  # the deadline passed: spent
    assert main(["late-days", "withdraw", "ada", A1, *course_arg]) == 2
    assert "the 1 late day asked for are spent" in " ".join(capsys.readouterr().err.split())
    assert main(["late-days", "spend", "nobody", A1, "--days", "1", *course_arg]) == 2
    assert main(["late-days", "spend", "ada", "99-none", "--days", "1", *course_arg]) == 2


# where the score goes: status, report, overview cell, history, the receipt notice ------------

def _receive(gb, student, assignment, received_at, score=None):
    receipt = add_receipt(gb, student_id=student, assignment_id=assignment,
                          received_at=received_at, sha256="c" * 64, size_bytes=1,
                          storage_path=f"inbox/{student}/{assignment}", client_timestamp=None)
    gb.commit()
    if score is not None:
        run = start_run(gb, student, assignment, receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=score, max_score=10.0)
        gb.commit()
    return receipt


@pytest.fixture
def graded(ws):
    """ada asked for 1 day on 01-numpy and handed in 5 h late (covered); 02-linreg 5 h late
    without days (-10 %)."""
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=ws.course.due(A1) - HOUR, by="ada")
        gb.commit()
        _receive(gb, "ada", A1, ws.course.due(A1) + 5 * HOUR, 10.0)
        _receive(gb, "ada", A2, ws.course.due(A2) + 5 * HOUR, 10.0)
    return ws


def test_the_report_and_the_overview_cell_say_minus_ten_percent_with_the_reason(graded):
    data = standing_data(graded, utc(2026, 11, 20))
    html = status_html(data)
    assert "late 9/10 -10%" in html and "late 10/10 (1d)" in html
    assert 'title="late by 5 h 0 min: -10 % (graded 10, counts 9)"' in html
    assert "<th>late days</th>" in html and "<td>1 of 2 left</td>" in html
    cells = str(standing_rows(data, [A1, A2], "/"))
    assert "late 9/10 -10%</td>" in cells and "late 10/10 (1d)</td>" in cells
    assert 'title="late by 5 h 0 min: -10 % (graded 10, counts 9)"' in cells


def test_history_names_the_late_days_spent_and_the_penalty(graded, monkeypatch, capsys):
    history = student_history(graded, "ada", as_of=utc(2026, 11, 20))
    receipts = {e.assignment_id: e for e in history.events if e.kind == "receipt"}
    assert receipts[A1].detail.endswith(
        "counts: late by 5 h 0 min, within the late days asked for until Mon 2026-10-26 18:00 "
        "+0100; 1 late day spent")
    assert receipts[A2].detail.endswith(
        "penalty: late by 5 h 0 min: -10 % (graded 10, counts 9)")
    (asked,) = [e for e in history.events if e.kind == "late days"]
    assert (asked.assignment_id, asked.detail) == (A1, "1 late day asked for by ada")
    document = history_json(history, graded)
    (a2,) = [e for e in document["events"] if e["kind"] == "receipt" and e["assignment"] == A2]
    assert (a2["penalty_percent"], a2["late_days"]) == (10.0, 0)
    monkeypatch.setattr(course.history, "utcnow", lambda: utc(2026, 11, 20))
    assert main(["history", "ada", "--course", str(graded.course_file)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 late day spent" in out and "-10 %" in out


def test_the_receipt_notice_counts_the_students_remaining_days(ws):
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - HOUR, by="ada")
        gb.commit()
        covered = receipt_notice(ws, gb, _receive(gb, "ada", A1, due + 5 * HOUR))
        unasked = receipt_notice(ws, gb, _receive(gb, "ben", A1, due + 5 * HOUR))
    assert covered.endswith("within the 1 late day you asked for (until Mon 2026-10-26 18:00 "
                            "+0100 (Europe/Berlin); 1 of 2 left): this submission counts, not "
                            "penalised")
    assert ("(2 of 2 late days left: ask for more on your dashboard page, and they move your "
            "deadline a whole day each): this submission counts, marked late") in unasked
    assert "10 % of the points it earns are taken off" in unasked


def test_the_receipt_notice_in_an_automatic_course_names_the_days_spent(make_course):
    ws = open_workspace(make_course(BASE_COURSE.replace(
        POLICY, f"policy: {{excused_misses: 1, late_days: 1, {WINDOW}}}")))
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        record_release(gb, A1, "0" * 64, now=utc(2026, 10, 19, 12))
        gb.commit()
        first = receipt_notice(ws, gb, _receive(gb, "ada", A1, due + 5 * HOUR))
        second = receipt_notice(ws, gb, _receive(gb, "ada", A2, ws.course.due(A2) + 5 * HOUR))
    assert first.endswith("1 late day of yours spent on it (0 of 1 left): this submission "
                          "counts, not penalised")
    assert "(0 of 1 late days left, too few to cover it whole): this submission counts, " \
           "marked late" in second


def test_the_per_assignment_maximum_refuses_and_names_its_key(make_course):
    text = BASE_COURSE.replace(POLICY, "policy: {excused_misses: 1, max_submissions: 5}")
    text = text.replace("{id: 01-numpy, title: NumPy,",
                        "{id: 01-numpy, title: NumPy, max_submissions: 1,")
    ws = open_workspace(make_course(text))
    with ws.gradebook() as gb:
        _receive(gb, "ada", A1, utc(2026, 10, 20))
        _receive(gb, "ada", A2, utc(2026, 10, 20))
        with pytest.raises(TooManySubmissions, match=r"\(max_submissions of 01-numpy: 1\)"):
            check_submission_count(ws, gb, "ada", A1)
        check_submission_count(ws, gb, "ada", A2)  # the course's 5: more may come
        check_submission_count(ws, gb, "ben", A1)


def test_status_json_carries_the_switch_and_the_days(graded, capsys):
    assert main(["status", "--format", "json", "--as-of", "2026-11-20 12:00", "--course",
                 str(graded.course_file)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"]["late_days"] == {"budget": 2, "spend": "on_request"}
    (ada,) = [s for s in data["students"] if s["id"] == "ada"]
    assert (ada["late_days_used"], ada["late_days_left"], ada["points"]) == (1, 1, 19.0)


def test_the_deadline_sweep_waits_for_the_late_days_asked_for(make_course):
    from course.sweep import due_for_grading

    ws = open_workspace(make_course(BASE_COURSE.replace(
        POLICY, f"policy: {{excused_misses: 1, {ON_REQUEST}}}"), assignments=(A1,)))
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - DAY, by="ada")
        gb.commit()
        _receive(gb, "ada", A1, due - HOUR)
        _receive(gb, "ben", A1, due - HOUR)
    assert due_for_grading(ws, due + HOUR) == {A1: ["ben"]}
    assert due_for_grading(ws, due + DAY + HOUR) == {A1: ["ada", "ben"]}


# review findings: the deadline late days are asked for by, the clock, one student, one row ----

def test_attack_feedback_read_at_the_deadline_then_late_days_then_a_fixed_version(make_course):
    """Hand in on time, graded and feedback out at the deadline, read it, ask for a day, hand
    in a fixed version: the days are refused, the fixed version never counts."""
    from course.collect import counting_receipts
    from course.feedback_gate import feedback_open

    ws = open_workspace(make_course(BASE_COURSE.replace(POLICY, (
        f"policy: {{excused_misses: 1, {ON_REQUEST}, {WINDOW}, "
        "feedback: {when: after_deadline}}"))))
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        record_release(gb, A1, "0" * 64, now=utc(2026, 10, 19, 12))
        gb.commit()
        _receive(gb, "ada", A1, due - HOUR, 4.0)  # on time, swept and graded at the deadline
        assert feedback_open(ws.course, gb, "ada", A1, due + HOUR).open  # she reads it
        for days in (1, 2):
            with pytest.raises(UserError, match="too late: the deadline of 01-numpy passed "
                               ".*; late days are asked for before the deadline"):
                spend(ws, gb, "ada", A1, days, now=due + 2 * HOUR, by="ada")
        gb.session.rollback()
        fixed = _receive(gb, "ada", A1, due + 3 * HOUR, 10.0)
        assert counting_receipts(ws, gb, A1)["ada"].received_at == due - HOUR
        notice = receipt_notice(ws, gb, fixed)
    assert _requests(ws) == []
    result = standing(ws.course, _facts(ws)).results[A1]
    assert (result.state, result.received, result.late_days) == ("on_time", due - HOUR, 0)
    assert result.score is None  # the fixed version's 10 belongs to a receipt that never counts
    assert "your on-time submission of" in notice and "still counts" in notice


def _facts(ws):
    from course.gradebook.records import gather_facts

    with ws.gradebook() as gb:
        return gather_facts(gb, ws.course)


def test_feedback_the_receipt_and_its_verdict_wait_for_the_late_days_asked_for(make_course):
    """Days asked for before the deadline move the deadline feedback ``after_deadline`` opens
    at, the exchange's verdict and the receipt notice's pick, as they move the one that picks
    what counts."""
    from course.feedback_gate import feedback_open
    from course.store import CourseExchange

    ws = open_workspace(make_course(BASE_COURSE.replace(POLICY, (
        f"policy: {{excused_misses: 1, {ON_REQUEST}, {WINDOW}, "
        "feedback: {when: after_deadline}}"))))
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        record_release(gb, A1, "0" * 64, now=utc(2026, 10, 19, 12))
        spend(ws, gb, "ben", A1, 1, now=due - HOUR, by="ben")
        gb.commit()
        _receive(gb, "ben", A1, due - 2 * HOUR, 4.0)
        held = feedback_open(ws.course, gb, "ben", A1, due + HOUR)
        assert not held.open and "Mon 2026-10-26 18:00 +0100" in held.reason
        assert feedback_open(ws.course, gb, "ben", A1, due + DAY).open
        assert feedback_open(ws.course, gb, "ada", A1, due + HOUR).open  # no days: at due
        later = _receive(gb, "ben", A1, due + 5 * HOUR)
        notice = receipt_notice(ws, gb, later)
    assert "within the 1 late day you asked for" in notice
    ex = CourseExchange(ws.course_file)
    try:
        judged = ex.judged(ex.receipt(later.id))
    finally:
        ex.close()
    assert judged["verdict"] == "on time (late days)"
    assert judged["deadline_local"].startswith("Mon 2026-10-26 18:00 +0100")


def test_a_late_day_over_the_daylight_saving_weekend_ends_at_the_same_local_hour():
    from zoneinfo import ZoneInfo

    from course.policy import late_day_deadline

    berlin = ZoneInfo("Europe/Berlin")
    saturday = dt.datetime(2026, 10, 24, 18, tzinfo=berlin)  # CEST; Sunday is CET
    moved = late_day_deadline(saturday.astimezone(dt.UTC), 1, berlin)
    assert moved == dt.datetime(2026, 10, 25, 18, tzinfo=berlin) == utc(2026, 10, 25, 17)
    spring = dt.datetime(2026, 3, 28, 18, tzinfo=berlin)  # CET; Sunday is CEST (a 23 h day)
    assert late_day_deadline(spring, 1, berlin) == utc(2026, 3, 29, 16)
    assert late_day_deadline(spring, 0, berlin) == spring
    # 02:30 repeated (October): its later reading; skipped (March): just after the gap
    assert late_day_deadline(dt.datetime(2026, 10, 24, 2, 30, tzinfo=berlin), 1, berlin) == \
        utc(2026, 10, 25, 1, 30)
    assert late_day_deadline(dt.datetime(2026, 3, 28, 2, 30, tzinfo=berlin), 1, berlin) == \
        utc(2026, 3, 29, 1, 30)


def test_the_policy_covers_a_hand_in_in_the_25th_hour_of_a_daylight_saving_day():
    course = parse_course(BASE_COURSE.replace(POLICY, (
        f"policy: {{excused_misses: 1, {ON_REQUEST}, {WINDOW}}}")).replace(
        "{id: 01-numpy, title: NumPy, for_session: 2}",
        "{id: 01-numpy, title: NumPy, due: 2026-10-24 18:00}"))
    facts = released(course)
    facts.late_day_requests[("ada", A1)] = 1
    received = utc(2026, 10, 25, 16, 30)  # Sun 17:30 CET: 24 h 30 min after Sat 18:00 CEST
    facts.receipts[("ada", A1)] = [received]
    facts.scores[("ada", A1)] = Graded(10.0, 10.0, received)
    result = standing(course, facts).results[A1]
    assert (result.state, result.score, result.penalty) == ("late", 10.0, None)
    assert "deadline 2026-10-25 18:00" in result.note


def test_a_hand_ins_notice_judges_its_student_alone(ws, monkeypatch):
    import course.policy

    judged = []
    real = course.policy._result

    def counted(course_, facts, pair, *args):
        judged.append(pair[0])
        return real(course_, facts, pair, *args)

    monkeypatch.setattr(course.policy, "_result", counted)
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        notice = receipt_notice(ws, gb, _receive(gb, "ada", A1, due + 5 * HOUR))
    assert "late" in notice and set(judged) == {"ada"}


def test_at_most_one_request_is_in_force_per_pair_and_a_second_at_once_is_refused(
        ws, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    import course.late_days

    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - DAY, by="ada")
        spend(ws, gb, "ada", A1, 2, now=due - DAY, by="ada")  # replaces it: one in force
        gb.commit()
        gb.session.add(LateDayRequest(student_id="ada", assignment_id=A1, days=1,
                                      requested_by="ada", requested_at=due - DAY))
        with pytest.raises(IntegrityError):
            gb.session.flush()
        gb.session.rollback()
        # two requests at the same moment: neither saw the other in force
        monkeypatch.setattr(course.late_days, "current_request", lambda *_: None)
        with pytest.raises(UserError, match="at the same moment in another request: nothing "
                           "was changed"):
            spend(ws, gb, "ada", A1, 1, now=due - HOUR, by="ada")
    assert _requests(ws) == [("ada", A1, 1, "ada", False), ("ada", A1, 2, "ada", True)]


def test_student_deadline_is_the_extension_moved_by_the_days_the_budget_honours():
    from course.policy import late_days_text, student_deadline

    course = course_with(ON_REQUEST)
    facts = released(course)
    facts.extensions[("ada", A1)] = course.due(A1) + DAY
    facts.late_day_requests.update({("ada", A1): 1, ("ada", A2): 2})  # budget 2: A2 gets 1
    assert student_deadline(course, facts, "ada", A1) == course.due(A1) + 2 * DAY
    assert student_deadline(course, facts, "ada", A2) == course.due(A2) + DAY
    assert student_deadline(course, facts, "ben", A1) == course.due(A1)
    assert (late_days_text(1), late_days_text(2), late_days_text(0)) == \
        ("1 late day", "2 late days", "0 late days")


def test_a_withdrawal_without_a_reason_records_the_one_default(ws):
    from course.late_days import WITHDRAWN

    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - DAY, by="ada")
        row = withdraw(ws, gb, "ada", A1, now=due - HOUR, by="ada")
        gb.commit()
        assert row.withdraw_reason == WITHDRAWN == "withdrawn"


def test_history_judges_receipts_after_the_counting_one_by_the_late_day_deadline(ws):
    due = ws.course.due(A1)
    with ws.gradebook() as gb:
        spend(ws, gb, "ada", A1, 1, now=due - HOUR, by="ada")
        gb.commit()
        _receive(gb, "ada", A1, due + 2 * HOUR)
        _receive(gb, "ada", A1, due + 5 * HOUR)
        _receive(gb, "ada", A1, due + DAY + 2 * HOUR)
    history = student_history(ws, "ada", as_of=utc(2026, 11, 20))
    first, counting, after = [e.detail for e in history.events if e.kind == "receipt"]
    assert first.endswith("does not count: a later one in time counts")
    assert "counts: late by 5 h 0 min, within the late days asked for" in counting
    assert after.endswith("does not count: after the counting one, 2 h 0 min past the deadline")


def test_the_form_offers_days_only_before_the_deadline(ws):
    from course.late_days import late_day_rows

    with ws.gradebook() as gb:
        _, rows = late_day_rows(ws, gb, "ada", ws.course.due(A1) + dt.timedelta(seconds=1))
    assert [(r.assignment_id, r.can_ask) for r in rows] == [(A1, False), (A2, True)]

"""Late rules beyond missed/accepted (issue 27, item 1): a late window whose penalty grows with
lateness until a cut-off, late days spent automatically, and a maximum number of submissions.
Judged from plain facts through the policy engine, then end to end through the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from small_courses import BASE_COURSE, utc

from commands.main import main
from course.coursefile import CourseFileError, parse_course
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.late_rules import LateDecision, LateRule, late_rule
from course.policy import Facts, Graded, judge
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)
POLICY = "policy: {excused_misses: 1}"  # line 13 of BASE_COURSE
WINDOW = ("late: {rule: window, penalty: [{after: 0h, percent: 10}, {after: 24h, percent: 25}], "
          "cutoff: 72h}")


def course_with(policy: str):
    return parse_course(BASE_COURSE.replace(POLICY, f"policy: {{excused_misses: 1, {policy}}}"))


def released(course) -> Facts:
    return Facts(releases={a.id: utc(2026, 10, 1) for a in course.assignments})


def hand_in(facts: Facts, course, student: str, assignment: str, late_by: dt.timedelta,
            score: float | None = None) -> None:
    received = course.due(assignment) + late_by
    facts.receipts[(student, assignment)] = [received]
    if score is not None:
        facts.scores[(student, assignment)] = Graded(score, 10.0, received)


def standing(course, facts, student="ada"):
    return next(s for s in judge(course, facts, utc(2026, 11, 20)) if s.student_id == student)


def test_the_window_takes_the_step_of_its_lateness_off_the_points_and_says_why():
    course = course_with(WINDOW)
    facts = released(course)
    hand_in(facts, course, "ada", "01-numpy", 5 * HOUR, score=10.0)
    hand_in(facts, course, "ada", "02-linreg", 30 * HOUR, score=8.0)
    s = standing(course, facts)
    first, second = s.results["01-numpy"], s.results["02-linreg"]
    assert (first.state, first.counts_as_miss, first.score, first.points) == \
        ("late", False, 9.0, 9.0)
    assert (first.penalty, first.penalty_percent, first.score_before_penalty) == \
        ("late by 5 h 0 min: -10 %", 10.0, 10.0)
    assert "late by 5 h 0 min: -10 % (graded 10, counts 9)" in first.note
    assert (second.score, second.penalty_percent, second.points) == (6.0, 25.0, 6.0)
    assert (s.points, s.max_points, s.misses, s.status) == (15.0, 20.0, 0, "ok")


def test_after_the_cut_off_a_late_hand_in_is_a_miss_with_its_reason():
    course = course_with(WINDOW)
    facts = released(course)
    hand_in(facts, course, "ada", "01-numpy", 72 * HOUR + dt.timedelta(seconds=1), score=10.0)
    hand_in(facts, course, "ben", "01-numpy", 72 * HOUR, score=10.0)  # the cut-off itself: in
    ada, ben = (standing(course, facts, s).results["01-numpy"] for s in ("ada", "ben"))
    assert (ada.counts_as_miss, ada.penalty) == (True, None)
    assert "past the cut-off of 72h: counts as missed" in ada.note
    assert (ben.counts_as_miss, ben.score, ben.penalty_percent) == (False, 7.5, 25.0)


def test_the_penalised_score_is_judged_against_the_pass_threshold_and_an_override_is_not_cut():
    course = course_with(f"pass_threshold: 0.5, {WINDOW}")
    facts = released(course)
    hand_in(facts, course, "ada", "01-numpy", 30 * HOUR, score=6.0)  # 4.5/10 after 25 %
    result = standing(course, facts).results["01-numpy"]
    assert (result.score, result.counts_as_miss) == (4.5, True)
    from course.policy import Override
    facts.overrides[("ada", "01-numpy")] = Override(8.0, "regrade", "ina", utc(2026, 11, 2))
    result = standing(course, facts).results["01-numpy"]
    assert (result.score, result.penalty, result.counts_as_miss) == (8.0, None, False)


def test_late_days_are_spent_in_deadline_order_until_the_budget_is_used():
    course = course_with("late_days: 2")
    facts = released(course)
    hand_in(facts, course, "ada", "01-numpy", 20 * HOUR, score=10.0)  # 1 day
    hand_in(facts, course, "ada", "02-linreg", 25 * HOUR, score=10.0)  # 2 days: 1 left
    s = standing(course, facts)
    first, second = s.results["01-numpy"], s.results["02-linreg"]
    assert (first.late_days, first.counts_as_miss, first.points) == (1, False, 10.0)
    assert "1 late day spent (1 of 2 left)" in first.note
    assert (second.late_days, second.counts_as_miss) == (0, True)  # the base rule: missed
    assert "2 late days needed, 1 left: the late rule applies" in second.note
    assert (s.late_days_used, s.late_days_left, s.misses) == (1, 1, 1)
    plain = standing(course_with("late: accepted"), facts)
    assert (plain.late_days_used, plain.late_days_left) == (0, None)


def test_late_days_first_then_the_window():
    course = course_with(f"late_days: 1, {WINDOW}")
    facts = released(course)
    hand_in(facts, course, "ada", "01-numpy", 5 * HOUR, score=10.0)
    hand_in(facts, course, "ada", "02-linreg", 5 * HOUR, score=10.0)
    s = standing(course, facts)
    assert (s.results["01-numpy"].late_days, s.results["01-numpy"].score) == (1, 10.0)
    assert (s.results["02-linreg"].late_days, s.results["02-linreg"].score) == (0, 9.0)
    assert (s.late_days_left, s.points) == (0, 19.0)


def test_a_rule_written_against_counts_as_miss_keeps_working_through_decide():
    class Grace(LateRule):
        name = "grace"

        def counts_as_miss(self, late_by):
            return late_by > HOUR

    assert Grace().decide(HOUR) == LateDecision(False)
    assert Grace().decide(2 * HOUR) == LateDecision(True)
    assert Grace().notice_for(LateDecision(True)) == \
        "late work counts as missed under this course's policy"
    assert late_rule("missed").decide(HOUR) == LateDecision(True)
    window = late_rule(course_with(WINDOW).policy.late)
    assert window.counts_as_miss(73 * HOUR) and not window.counts_as_miss(71 * HOUR)
    assert "10 % of the points it earns are taken off" in window.notice_for(window.decide(HOUR))


@pytest.mark.parametrize("policy, line, field, message", [
    (("policy:\n  late:\n    rule: window\n    penalty:\n      - {after: 0h, percent: 10}\n"
      "      - {after: 2x, percent: 25}\n    cutoff: 72h"), 18, "policy.late.penalty[1].after",
     "should be a length of time such as 30m, 24h, 3d or 1d 12h (got '2x')"),
    (("policy:\n  late:\n    rule: window\n    penalty: [{after: 0h, percent: 10}]\n"
      "    cutof: 72h"), 17, "policy.late.cutof", "unknown key; did you mean 'cutoff'?"),
    (("policy:\n  late:\n    rule: window\n    penalty: [{after: 0h, percent: 110}]\n"
      "    cutoff: 72h"), 16, "policy.late.penalty[0].percent", "less than or equal to 100"),
    ("policy: {late: window}", 13, "policy.late", "needs its settings"),
    ("policy: {late: {rule: missed}}", 13, "policy.late", "takes no settings"),
    ("policy:\n  late_days: -1", 14, "policy.late_days", "greater than or equal to 0"),
    ("policy:\n  max_submissions: 0", 14, "policy.max_submissions",
     "greater than or equal to 1"),
])
def test_the_new_keys_are_checked_with_errors_at_their_line(policy, line, field, message):
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace(POLICY, policy), "course.yml")
    error = next(e for e in caught.value.errors if e.field == field)
    assert error.line == line and message in error.message


def test_the_default_policy_is_unchanged():
    policy = parse_course(BASE_COURSE).policy
    assert (policy.late, policy.late_days, policy.max_submissions) == ("missed", 0, None)


# end to end ---------------------------------------------------------------------------------

E2E_POLICY = (f"policy: {{excused_misses: 1, late_days: 1, max_submissions: 2, {WINDOW}}}")
AS_OF = "2026-11-20 12:00"


def _receive_graded(gb, student, assignment, received_at, score):
    receipt = add_receipt(gb, student_id=student, assignment_id=assignment,
                          received_at=received_at, sha256="c" * 64, size_bytes=1,
                          storage_path=f"inbox/{student}/{assignment}", client_timestamp=None)
    gb.commit()
    run = start_run(gb, student, assignment, receipt.id, "sandboxed-pytest", "v1")
    finish_run(gb, run, "success", score=score, max_score=10.0)
    gb.commit()


@pytest.fixture
def late_course(make_course):
    root = make_course(BASE_COURSE.replace(POLICY, E2E_POLICY))
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for assignment in ("01-numpy", "02-linreg"):
            record_release(gb, assignment, "0" * 64, now=utc(2026, 10, 19, 12))
        _receive_graded(gb, "ada", "01-numpy", ws.course.due("01-numpy") + 5 * HOUR, 10.0)
        _receive_graded(gb, "ada", "02-linreg", ws.course.due("02-linreg") + 5 * HOUR, 10.0)
        _receive_graded(gb, "ben", "01-numpy", ws.course.due("01-numpy") - HOUR, 8.0)
    return root


def test_status_json_shows_the_penalty_and_the_late_days(late_course, capsys):
    assert main(["status", "--format", "json", "--as-of", AS_OF, "--course",
                 str(late_course)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"]["late"]["cutoff"] == "72h" and data["policy"]["late_days"] == 1
    ada = next(s for s in data["students"] if s["id"] == "ada")
    first, second = ada["assignments"]["01-numpy"], ada["assignments"]["02-linreg"]
    assert (first["late_days"], first["score"], first["penalty"]) == (1, 10.0, None)
    assert (second["score"], second["score_before_penalty"], second["penalty_percent"]) == \
        (9.0, 10.0, 10.0)
    assert second["penalty"] == "late by 5 h 0 min: -10 %"
    assert (ada["late_days_used"], ada["late_days_left"], ada["points"]) == (1, 0, 19.0)
    assert main(["status", "--as-of", AS_OF, "--course", str(late_course)]) == 0
    table = capsys.readouterr().out
    assert "late days" in table and "0 of 1 left" in table and "1 of 1 left" in table
    assert "- ada, 02-linreg: late by 5 h 0 min: -10 % (graded 10, counts 9)" in table


def test_export_csv_carries_the_penalised_points(late_course, capsys):
    assert main(["export", "--format", "csv", "--as-of", AS_OF, "--course",
                 str(late_course)]) == 0
    header, *rows = csv.reader(io.StringIO(capsys.readouterr().out))
    ada = dict(zip(header, next(row for row in rows if "ada" in row), strict=True))
    assert "9" in ada.values() and ada["total"] == "19"


def test_submit_refuses_the_submission_past_the_maximum(make_course, tmp_path, capsys):
    root = make_course(BASE_COURSE.replace(POLICY, E2E_POLICY), assignments=("01-numpy",))
    ws = open_workspace(root)
    (root / "exchange" / ws.course.id / "outbound" / "01-numpy").mkdir(parents=True)
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    work = tmp_path / source.name
    work.write_bytes(source.read_bytes())
    with ws.gradebook() as gb:
        for hours in (2, 1):
            add_receipt(gb, student_id="ada", assignment_id="01-numpy",
                        received_at=ws.course.due("01-numpy") - hours * HOUR, sha256="e" * 64,
                        size_bytes=1, storage_path="inbox/x", client_timestamp=None)
        gb.commit()
    code = main(["submit", "01-numpy", str(work), "--student", "ada", "--course", str(root)])
    err = capsys.readouterr().err
    assert code == 2
    assert "ada has handed in 01-numpy 2 times, the most this course accepts " \
           "(policy.max_submissions: 2)" in " ".join(err.split())
    assert main(["submit", "01-numpy", str(work), "--student", "ben", "--course", str(root)]) == 0


def test_the_students_page_shows_the_late_days_left_and_why_a_score_is_less(late_course):
    from dashboard.data import student_page
    from dashboard.pages import render

    ws = open_workspace(late_course)
    now = utc(2026, 11, 20, 11)

    def me_html(student: str) -> str:
        return render("me.html", now=now, zone=ws.course.zone, course=ws.course, base="/",
                      static=lambda name: f"/static/{name}", user=student, role="student",
                      staff=False, instructor=False, messages=[], xsrf="x",
                      **student_page(ws, student, now, staff=False))

    html = me_html("ada")
    assert "Late days: 0 of 1 left" in html
    assert "late by 5 h 0 min: -10 % (graded 10, counts 9)" in html
    assert "Late days: 1 of 1 left" in me_html("ben")  # nothing late: all left

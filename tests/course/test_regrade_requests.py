"""Regrade requests (issue 27, item 3): a student asks for one test or cell of their graded work
to be graded again, with a reason, until ``policy.regrade_requests.until`` after their deadline
or latest grading; staff accept (a score override naming the request: status, export and the
LMS push follow) or reject with a reason; ``course history`` lists both sides.

Through the library (``course.regrades``) with an injected "now", and end to end through the
CLI on a real gradebook (SQLite and the throwaway PostgreSQL). No test reads the clock."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from small_courses import BASE_COURSE, utc
from sqlalchemy import func, select

from autograder import results
from commands.main import main
from course import calendar
from course.coursefile import CourseFileError, parse_course
from course.errors import UnknownId, UserError
from course.gradebook import records
from course.gradebook.models import RegradeRequest, ScoreOverride
from course.gradebook.records import (
    add_receipt,
    finish_run,
    receipts_where,
    record_release,
    start_run,
)
from course.regrades import MAX_REASON_CHARS, accept, file_request, open_windows, reject, window
from course.workspace import open_workspace

POLICY = "policy: {excused_misses: 1}"  # BASE_COURSE's policy line
REGRADES = "policy: {excused_misses: 1, regrade_requests: {until: 7d}}"
AID = "01-numpy"  # due Sun 2026-10-25 18:00 Berlin = 17:00 UTC
GRADED = utc(2026, 10, 26, 10)  # when ada's and ben's work was graded: the window runs 7 days on
CLOSES = GRADED + dt.timedelta(days=7)
NOW = utc(2026, 10, 28, 9)
ON_TIME = utc(2026, 10, 24, 9)  # when ada and ben handed 01-numpy in
TESTS = (results.TestScore("test_mean", "mean-tests", 0.0, 4.0, "failed"),
         results.TestScore("test_shape", None, 6.0, 6.0, "passed"))


@pytest.fixture
def clock(monkeypatch):
    """The platform's clock, set by the test (``clock.now = ...``): the CLI reads it once."""

    class Clock:
        now = NOW

    monkeypatch.setattr(calendar, "utcnow", lambda: Clock.now)
    monkeypatch.setattr(records, "utcnow", lambda: Clock.now)  # finish_run's stamp
    return Clock


def _graded(ws, gb, student: str, score: float, *, report: bool = True,
            received: dt.datetime = ON_TIME, tests=TESTS) -> None:
    folder = ws.root / "inbox" / AID / student
    receipt = add_receipt(gb, student_id=student, assignment_id=AID,
                          received_at=received, sha256="a" * 64, size_bytes=2,
                          storage_path=str(folder.relative_to(ws.root)), client_timestamp=None)
    gb.commit()
    run = start_run(gb, student, AID, receipt.id, "sandboxed-pytest", "v1")
    finish_run(gb, run, "success", score=score, max_score=10.0)
    if report:
        graded = ws.root / "autograded" / student / AID
        graded.mkdir(parents=True)
        results.GradingReport("numpy-basics", tests, isolation="bwrap").write(graded)


@pytest.fixture
def course_root(make_course, db_url, clock):
    """Regrade requests on (7d); ada and ben handed 01-numpy in and it was graded at GRADED
    (6/10; ben's grading left no report: nothing to name); cleo handed nothing in."""
    root = make_course(BASE_COURSE.replace(POLICY, REGRADES), db_url=db_url)
    ws = open_workspace(root)
    clock.now = GRADED
    with ws.gradebook() as gb:
        for assignment in (AID, "02-linreg"):
            record_release(gb, assignment, "0" * 64, now=utc(2026, 10, 19, 12))
        _graded(ws, gb, "ada", 6.0)
        _graded(ws, gb, "ben", 6.0, report=False)
        gb.commit()
    clock.now = NOW
    return root


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def _count(root, model) -> int:
    with open_workspace(root).gradebook() as gb:
        return gb.session.scalar(select(func.count()).select_from(model))


# --- the course file -----------------------------------------------------------------------

def test_off_by_default_and_checked_at_its_line():
    assert parse_course(BASE_COURSE).policy.regrade_requests is None
    on = parse_course(BASE_COURSE.replace(POLICY, REGRADES)).policy.regrade_requests
    assert on.until == dt.timedelta(days=7)
    with pytest.raises(CourseFileError) as caught:
        parse_course(BASE_COURSE.replace(
            POLICY, "policy: {excused_misses: 1, regrade_requests: {until: soon}}"))
    assert "course.yml:13: policy.regrade_requests.until: should be a length of time" in \
        str(caught.value)
    with pytest.raises(CourseFileError, match="course.yml:13: policy.regrade_requests"):
        parse_course(BASE_COURSE.replace(
            POLICY, "policy: {excused_misses: 1, regrade_requests: {untill: 7d}}"))


def test_a_course_without_the_option_takes_no_request(make_course, clock):
    root = make_course()
    with pytest.raises(UserError, match="takes no regrade requests"):
        file_request(open_workspace(root), "ada", AID, "test_mean", "why", now=NOW, by="ada")
    assert _count(root, RegradeRequest) == 0


# --- filing: what is refused, with nothing written ------------------------------------------

@pytest.mark.parametrize("student, assignment, item, reason, now, message", [
    ("cleo", AID, "test_mean", "wrong", NOW, "cleo has not handed in 01-numpy"),
    ("ada", "02-linreg", "test_mean", "wrong", NOW, "ada has not handed in 02-linreg"),
    ("ben", AID, "test_mean", "wrong", NOW, "ben's 01-numpy is not graded yet"),
    ("ada", AID, "test_nope", "wrong", NOW, "ada's graded 01-numpy has no test or cell 'test_nope'"),
    ("ada", AID, "test_mean", "   ", NOW, "give a reason"),
    ("ada", AID, "test_mean", "x" * (MAX_REASON_CHARS + 1), NOW,
     f"at most {MAX_REASON_CHARS}"),
    ("ada", AID, "test_mean", "wrong", CLOSES + dt.timedelta(seconds=1),
     "regrade requests for ada's 01-numpy closed on Mon 2026-11-02 11:00 +0100"),
    # handed in only after "now" (a receipt from the future is no hand-in yet)
    ("ada", AID, "test_mean", "wrong", utc(2026, 10, 24, 8), "ada has not handed in"),
])
def test_requests_that_are_refused_write_nothing(course_root, student, assignment, item, reason,
                                                 now, message):
    with pytest.raises(UserError) as caught:
        file_request(open_workspace(course_root), student, assignment, item, reason, now=now,
                     by=student)
    assert message in str(caught.value)
    assert _count(course_root, RegradeRequest) == 0


def test_unknown_students_and_assignments_are_unknown_ids(course_root):
    ws = open_workspace(course_root)
    for student, assignment in (("zed", AID), ("ada", "99-nope")):
        with pytest.raises(UnknownId):
            file_request(ws, student, assignment, "test_mean", "why", now=NOW, by="x")


def test_the_window_closes_until_after_the_later_of_the_deadline_and_the_grading(course_root):
    ws = open_workspace(course_root)
    with ws.gradebook() as gb:
        assert window(ws, gb, "ada", AID, now=NOW).closes == CLOSES  # graded after the deadline
        records.grant_extension(gb, "ada", AID, utc(2026, 10, 30, 17), "ill", by="ina")
        gb.commit()
        assert window(ws, gb, "ada", AID, now=NOW).closes == utc(2026, 11, 6, 17)  # its end
    assert [w.assignment_id for w in open_windows(ws, "ada", NOW)] == [AID]
    assert open_windows(ws, "ada", utc(2026, 11, 6, 17, 0, 1)) == []
    assert open_windows(ws, "ben", NOW) == []  # nothing named to regrade
    # the last moment is in
    row = file_request(ws, "ada", AID, "mean-tests", "a cell too", now=utc(2026, 11, 6, 17),
                       by="ada")
    assert (row.item, row.state) == ("mean-tests", "open")


def test_one_open_request_per_test_and_a_closed_request_cannot_be_answered_again(course_root):
    ws = open_workspace(course_root)
    first = file_request(ws, "ada", AID, "test_mean", "my mean is right", now=NOW, by="ada")
    with pytest.raises(UserError, match="already asked for and not answered yet"):
        file_request(ws, "ada", AID, "test_mean", "again", now=NOW, by="ada")
    reject(ws, first.id, "the mean ignores NaN", now=NOW, by="gus")
    with pytest.raises(UserError, match="was rejected already, by gus"):
        accept(ws, first.id, 9, "changed my mind", now=NOW, by="ina")
    with pytest.raises(UserError, match="no regrade request #999"):
        reject(ws, 999, "no", now=NOW, by="ina")
    again = file_request(ws, "ada", AID, "test_mean", "but see line 3", now=NOW, by="ada")
    assert again.id != first.id
    with pytest.raises(UserError, match="not between 0 and the max score 10"):
        accept(ws, again.id, 10.5, "too much", now=NOW, by="ina")
    with pytest.raises(UserError, match="give an answer"):
        accept(ws, again.id, 9, " ", now=NOW, by="ina")
    assert _count(course_root, ScoreOverride) == 0


# --- end to end: the CLI, status, export, history --------------------------------------------

def test_accepting_sets_an_override_naming_the_request_and_status_export_history_follow(
        course_root, capsys):
    ws = open_workspace(course_root)
    filed = file_request(ws, "ada", AID, "test_mean", "np.mean <script>x</script> is right",
                         now=NOW, by="ada")
    code, out, _ = run(capsys, "regrade", "list", "--open", "--format", "json",
                       "--course", str(course_root))
    (listed,) = json.loads(out)
    assert code == 0 and (listed["id"], listed["student"], listed["item"], listed["state"]) == \
        (filed.id, "ada", "test_mean", "open")
    code, out, _ = run(capsys, "regrade", "accept", str(filed.id), "--score", "9", "--answer",
                       "right: NaN-safe", "--course", str(course_root))
    assert code == 0 and f"accepted regrade request #{filed.id}" in out and "scores 9" in out
    with ws.gradebook() as gb:
        (override,) = gb.session.scalars(select(ScoreOverride)).all()
        row = gb.session.get(RegradeRequest, filed.id)
    assert (override.score, override.max_score, override.set_by) == (9.0, 10.0, "ina")
    assert override.reason == f"regrade request #{filed.id} (test_mean): right: NaN-safe"
    assert (row.state, row.answered_by, row.override_id) == ("accepted", "ina", override.id)
    as_of = "2026-11-20 12:00"
    code, out, _ = run(capsys, "status", "--format", "json", "--as-of", as_of,
                       "--course", str(course_root))
    ada = next(s for s in json.loads(out)["students"] if s["id"] == "ada")
    assert ada["assignments"][AID]["score"] == 9.0
    assert f"regrade request #{filed.id}" in ada["assignments"][AID]["override"]
    code, out, _ = run(capsys, "export", "--format", "csv", "--as-of", as_of,
                       "--course", str(course_root))
    header, *rows = csv.reader(io.StringIO(out))
    exported = dict(zip(header, next(r for r in rows if "ada" in r), strict=True))
    assert code == 0 and exported["total"] == "9"
    code, out, _ = run(capsys, "history", "ada", "--format", "json",
                       "--course", str(course_root))
    kinds = [(e["kind"], e["detail"]) for e in json.loads(out)["events"]]
    assert ("regrade request",
            "regrade of test_mean asked for by ada: np.mean <script>x</script> is right") in kinds
    assert ("regrade accepted", "regrade of test_mean accepted by ina: right: NaN-safe") in kinds
    assert any(kind == "override" for kind, _ in kinds)
    code, out, _ = run(capsys, "regrade", "list", "--open", "--course", str(course_root))
    assert (code, out.strip()) == (0, "no regrade requests open")


def test_rejecting_keeps_the_score_and_both_sides_are_on_record(course_root, capsys):
    code, out, _ = run(capsys, "regrade", "file", "ada", AID, "test_mean", "--reason",
                       "emailed me", "--course", str(course_root))
    assert code == 0 and "regrade request #1: test_mean of ada's 01-numpy" in out
    code, out, _ = run(capsys, "regrade", "reject", "1", "--answer", "NaN must be skipped",
                       "--course", str(course_root))
    assert code == 0 and "rejected regrade request #1" in out
    code, out, _ = run(capsys, "regrade", "list", "--student", "ada", "--course",
                       str(course_root))
    assert "rejected" in out and "NaN must be skipped (ina)" in out and "emailed me" in out
    code, out, _ = run(capsys, "history", "ada", "--course", str(course_root))
    assert "regrade rejected" in out and "NaN must be skipped" in out
    code, out, _ = run(capsys, "status", "--format", "json", "--as-of", "2026-11-20 12:00",
                       "--course", str(course_root))
    ada = next(s for s in json.loads(out)["students"] if s["id"] == "ada")
    assert (ada["assignments"][AID]["score"], ada["assignments"][AID]["override"]) == (6.0, None)


@pytest.mark.parametrize("argv, message", [
    (["regrade", "file", "zed", AID, "test_mean", "--reason", "x"], "unknown student 'zed'"),
    # staff filing for a student are told what the grading names
    (["regrade", "file", "ada", AID, "test_zzz", "--reason", "x"],
     "has no test or cell 'test_zzz'; it has: test_mean, mean-tests, test_shape"),
    (["regrade", "accept", "7", "--score", "1", "--answer", "x"], "no regrade request #7"),
    (["regrade", "reject", "7", "--answer", "x"], "no regrade request #7"),
    (["regrade", "list", "--assignment", "99-nope"], "unknown assignment '99-nope'"),
])
def test_bad_input_exits_2_with_a_clear_message(course_root, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--course", str(course_root))
    assert (code, out) == (2, "") and message in err
    assert _count(course_root, RegradeRequest) == 0


# --- review fixes: hidden names, the window, final scores, two at once -----------------------

def _course_with(make_course, db_url, clock, policy: str, **graded) -> object:
    """A course taking regrade requests with ``policy`` (more of the policy's keys), ada's
    01-numpy handed in and graded 6/10 at GRADED; the workspace."""
    root = make_course(BASE_COURSE.replace(
        POLICY, f"policy: {{excused_misses: 1, regrade_requests: {{until: 7d}}, {policy}}}"),
        db_url=db_url)
    ws = open_workspace(root)
    clock.now = GRADED
    with ws.gradebook() as gb:
        record_release(gb, AID, "0" * 64, now=utc(2026, 10, 19, 12))
        _graded(ws, gb, "ada", 6.0, **graded)
        gb.commit()
    clock.now = NOW
    return ws


HIDDEN = ("test_mean", "test_shape", "test_quiet")
QUIET = (*TESTS, results.TestScore("test_quiet", "quiet-tests", 0.0, 1.0, "failed",
                                   feedback="nothing"))


@pytest.mark.parametrize("feedback, extension", [
    ("{show: nothing}", None),  # feedback open, but it names no hidden test
    ("{show: traceback, when: after_deadline}", utc(2026, 11, 6, 17)),  # her deadline is ahead
    ("{show: traceback, when: after_hand_grading}", None),  # nobody graded by hand yet
])
def test_a_student_is_never_told_hidden_test_names_her_feedback_does_not_show(
        make_course, db_url, clock, feedback, extension):
    """Attack: the window's choices and the refusal of a wrong name list grade cells only."""
    ws = _course_with(make_course, db_url, clock, f"feedback: {feedback}", tests=QUIET)
    if extension is not None:
        with ws.gradebook() as gb:
            records.grant_extension(gb, "ada", AID, extension, "ill", by="ina")
            gb.commit()
    (shown,) = open_windows(ws, "ada", NOW)
    assert shown.items == ("mean-tests", "quiet-tests")
    for named in ("test_nope", "test_mean"):  # a wrong guess, a right one: the same refusal
        with pytest.raises(UserError) as caught:
            file_request(ws, "ada", AID, named, "why", now=NOW, by="ada")
        assert str(caught.value) == f"ada's graded 01-numpy has no test or cell {named!r}"
    assert _count(ws.root, RegradeRequest) == 0
    row = file_request(ws, "ada", AID, "mean-tests", "the cell", now=NOW, by="ada")
    assert row.item == "mean-tests"
    with ws.gradebook() as gb:  # staff (course regrade file) may name every test
        assert set(HIDDEN) <= set(window(ws, gb, "ada", AID, now=NOW, staff=True).items)


def test_once_her_feedback_shows_names_she_may_name_those_tests_only(make_course, db_url,
                                                                      clock):
    ws = _course_with(make_course, db_url, clock, "feedback: {show: name}", tests=QUIET)
    (shown,) = open_windows(ws, "ada", NOW)
    # test_quiet's own marker says nothing: its name stays hidden
    assert shown.items == ("test_mean", "mean-tests", "test_shape", "quiet-tests")


def test_after_hand_grading_the_window_runs_from_when_her_feedback_opened(
        make_course, db_url, clock, monkeypatch):
    """Hand grading leaves no grading run: the window waits for the feedback to open (hand
    grading done, the feedback returned), then runs ``until`` from its return."""
    import course.store

    ws = _course_with(make_course, db_url, clock, "feedback: {when: after_hand_grading}")
    late = CLOSES + dt.timedelta(days=3)  # past the window counted from the grading
    with ws.gradebook() as gb:
        assert window(ws, gb, "ada", AID, now=late).closes is None  # not open yet: not closing
    (shown,) = open_windows(ws, "ada", late)
    assert shown.closes is None and shown.items == ("mean-tests",)
    first = file_request(ws, "ada", AID, "mean-tests", "the cell", now=late, by="ada")
    assert first.state == "open"

    returned = late + dt.timedelta(days=1)
    with ws.gradebook() as gb:  # graded by hand: the formgrader's save
        gb.nb.add_submission(AID, "ada")
        receipt = receipts_where(gb, student_id="ada", assignment_id=AID)[0]
    monkeypatch.setattr(course.store, "utcnow", lambda: returned)
    exchange = course.store.CourseExchange(ws.course_file)
    try:
        exchange.release_feedback(receipt, {"numpy-basics.html": b"<p>feedback</p>"})
    finally:
        exchange.close()
    closes = returned + dt.timedelta(days=7)
    with ws.gradebook() as gb:
        assert window(ws, gb, "ada", AID, now=returned).closes == closes
    row = file_request(ws, "ada", AID, "test_mean", "now I see it", now=closes, by="ada")
    assert row.item == "test_mean"  # her feedback is open: the names it shows
    with pytest.raises(UserError, match="closed on"):
        file_request(ws, "ada", AID, "test_shape", "late", now=closes + dt.timedelta(seconds=1),
                     by="ada")


def test_staff_see_the_graded_score_the_penalty_and_what_counts_before_a_final_score(
        make_course, db_url, clock, capsys):
    """Accepting sets a score override, which no late penalty touches: the list shows what the
    late hand-in counts now, and says the accepted score is final."""
    window_rule = "late: {rule: window, penalty: [{after: 0h, percent: 10}], cutoff: 72h}"
    ws = _course_with(make_course, db_url, clock, window_rule,
                      received=utc(2026, 10, 25, 20))  # 3 h late: -10 %
    filed = file_request(ws, "ada", AID, "mean-tests", "my mean is right", now=NOW, by="ada")
    code, out, _ = run(capsys, "regrade", "list", "--open", "--course", str(ws.root))
    assert code == 0 and "graded 6/10" in " ".join(out.split())
    assert "counts 5.4/10" in out and "an accepted score is final: no late penalty" in out
    code, out, _ = run(capsys, "regrade", "list", "--format", "json", "--course", str(ws.root))
    (listed,) = json.loads(out)
    assert listed["counts_now"].startswith("graded 6/10, ")
    assert listed["counts_now"].endswith(": counts 5.4/10")
    accept(ws, filed.id, 9, "right", now=NOW, by="ina")
    code, out, _ = run(capsys, "status", "--format", "json", "--as-of", "2026-11-20 12:00",
                       "--course", str(ws.root))
    ada = next(s for s in json.loads(out)["students"] if s["id"] == "ada")
    assert ada["assignments"][AID]["score"] == 9.0  # final, as the list said


def test_who_may_accept_instructors_and_graders_only_where_the_course_file_says():
    from course.regrades import may_accept

    default = parse_course(BASE_COURSE.replace(POLICY, REGRADES))
    assert [may_accept(default, r) for r in ("instructor", "grader", "student", None)] == \
        [True, False, False, False]
    allowed = parse_course(BASE_COURSE.replace(POLICY, "policy: {excused_misses: 1, "
                                               "regrade_requests: {until: 7d, "
                                               "graders_may_accept: true}}"))
    assert [may_accept(allowed, r) for r in ("instructor", "grader", "student")] == \
        [True, True, False]


def test_two_requests_for_one_test_filed_at_once_land_once(course_root, monkeypatch):
    """Both pass the check for an open request before either is written: the table's partial
    unique index refuses the second, on SQLite and PostgreSQL."""
    import course.regrades

    ws = open_workspace(course_root)
    monkeypatch.setattr(course.regrades, "requests_where", lambda *a, **k: [])
    file_request(ws, "ada", AID, "test_mean", "first", now=NOW, by="ada")
    with pytest.raises(UserError, match="already asked for and not answered yet"):
        file_request(ws, "ada", AID, "test_mean", "second", now=NOW, by="ada")
    assert _count(course_root, RegradeRequest) == 1
    file_request(ws, "ada", AID, "mean-tests", "another item", now=NOW, by="ada")
    reject(ws, 1, "no", now=NOW, by="ina")  # answered: the same test may be asked again
    file_request(ws, "ada", AID, "test_mean", "third", now=NOW, by="ada")
    assert _count(course_root, RegradeRequest) == 3


def test_two_answers_to_one_request_at_once_land_once(course_root, monkeypatch):
    """The dashboard and the CLI both find the request open; the second to write finds it
    answered in the database and writes nothing (no second override)."""
    import course.regrades

    ws = open_workspace(course_root)
    filed = file_request(ws, "ada", AID, "test_mean", "my mean", now=NOW, by="ada")
    real, raced = course.regrades._open_request, []

    def open_then_answered_elsewhere(gb, request_id):
        row = real(gb, request_id)  # open as read here
        if not raced:
            raced.append(True)
            accept(ws, request_id, 8, "first", now=NOW, by="gus")  # lands meanwhile
        return row

    monkeypatch.setattr(course.regrades, "_open_request", open_then_answered_elsewhere)
    with pytest.raises(UserError, match=f"#{filed.id} was accepted meanwhile, by gus"):
        accept(ws, filed.id, 9, "second", now=NOW, by="ina")
    raced.clear()
    with pytest.raises(UserError, match="was accepted already, by gus"):
        reject(ws, filed.id, "third", now=NOW, by="ina")  # read answered: refused at once
    with ws.gradebook() as gb:
        (override,) = gb.session.scalars(select(ScoreOverride)).all()
        row = gb.session.get(RegradeRequest, filed.id)
    assert (override.score, override.set_by) == (8.0, "gus")
    assert (row.state, row.answer, row.answered_by, row.override_id) == \
        ("accepted", "first", "gus", override.id)

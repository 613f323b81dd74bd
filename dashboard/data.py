"""What each dashboard page shows, gathered through the course library at one instant ``now``.

Plain data (dicts and dataclasses), no HTML: ``dashboard.pages`` renders it. The standing is
``course.standing.standing_data``, the same document ``course status`` prints, so the pages and
the terminal never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from autograder.results import GradingReport
from course.calendar import readable_local
from course.collect import counting_receipts
from course.gradebook.models import (
    Excuse,
    Extension,
    GradingRun,
    Presentation,
    Receipt,
    ScoreOverride,
)
from course.policy import withdrawal_ends
from course.presenters import drawn_for
from course.standing import standing_data
from course.summaries import duties
from course.workspace import Workspace

__all__ = ["Grant", "Progress", "assignment_page", "course_page", "student_page"]


def _when(moment: dt.datetime | None, zone) -> str:
    return readable_local(moment, zone) if moment is not None else ""


def course_page(ws: Workspace, now: dt.datetime, *, standing: dict | None = None) -> dict:
    """The overview: the standing table, who is at risk, who must be excluded and by when.
    ``standing``: ``standing_data(ws, now)`` if the caller has it (``dashboard.cache``)."""
    data = standing or standing_data(ws, now)
    students = data["students"]
    course = ws.course
    ids = [a.id for a in course.assignments]
    return {
        "standing": data,
        "assignments": ids,
        "titles": {a.id: a.title for a in course.assignments},
        "at_risk": [s for s in students if s["status"] == "at_risk"],
        "exclude": [s for s in students if s["status"] == "exclude"],
        "withdrawal": withdrawal_ends(course),
        "withdrawal_passed": now >= withdrawal_ends(course),
        "counts": Counter(s["status"] for s in students),
    }


@dataclass(frozen=True)
class Progress:
    """Grading of one assignment's handed-in work: ``queued``: the submission that counts has no
    grading run yet; ``running``; ``done``: graded; ``failed``: the last run failed."""

    queued: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("queued", "running", "done", "failed")}


def test_scores(ws: Workspace, student_id: str, assignment_id: str) -> list[dict]:
    """Each hidden test's points in the student's last good grading (autograded/ reports)."""
    folder = ws.root / "autograded" / student_id / assignment_id
    return [{"notebook": report.notebook, "test": test.name, "points": test.points,
             "max_points": test.max_points, "outcome": test.outcome}
            for report in GradingReport.read_all(folder) for test in report.tests]


def grading_progress(ws: Workspace, gb, assignment_id: str) -> Progress:
    """Where grading of each student's submission that counts stands (``course collect``
    picks the same submission)."""
    counting = {sid: receipt.id
                for sid, receipt in counting_receipts(ws, gb, assignment_id).items()}
    latest: dict[str, GradingRun] = {}
    runs = gb.session.scalars(select(GradingRun).where(GradingRun.assignment_id == assignment_id))
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        latest[run.student_id] = run
    progress = Progress()
    for student_id, receipt_id in counting.items():
        run = latest.get(student_id)
        if run is None or run.receipt_id != receipt_id:
            progress.queued.append(student_id)
        elif run.outcome == "running":
            progress.running.append(student_id)
        elif run.outcome == "success":
            progress.done.append(student_id)
        else:
            progress.failed.append(student_id)
    return progress


def assignment_page(ws: Workspace, assignment_id: str, now: dt.datetime, *,
                    standing: dict | None = None) -> dict:
    course = ws.course
    assignment = course.assignment(assignment_id)  # UnknownId for a bad id
    data = standing or standing_data(ws, now)
    entries = {s["id"]: s["assignments"][assignment_id] for s in data["students"]}
    names = {s["id"]: s["name"] for s in data["students"]}
    with ws.gradebook() as gb:
        receipts = [(r.student_id, r.received_at) for r in gb.session.execute(
            select(Receipt.student_id, Receipt.received_at)
            .where(Receipt.assignment_id == assignment_id, Receipt.received_at <= now)
            .order_by(Receipt.received_at))]
        progress = grading_progress(ws, gb, assignment_id)
        drawn = [{"student": row.student_id, "absent": row.absent, "round": row.draw_round,
                  "drawn_at": row.drawn_at, "drawn_by": row.drawn_by, "seed": row.seed}
                 for row in drawn_for(gb, assignment_id)]
    tests: dict[str, list[int]] = {}  # test -> [passed, graded]
    for student_id in progress.done:
        for score in test_scores(ws, student_id, assignment_id):
            counts = tests.setdefault(score["test"], [0, 0])
            counts[0] += score["outcome"] == "passed"
            counts[1] += 1
    pass_rates = sorted(((name, passed, total) for name, (passed, total) in tests.items()),
                        key=lambda item: (item[1] / item[2], item[0]))  # most failed first
    scores = [(e["score"], e["max_score"]) for e in entries.values()
              if e["score"] is not None and e["max_score"]]
    return {
        "assignment": assignment,
        "due": course.due(assignment_id),
        "standing": data,
        "names": names,
        "entries": entries,
        "receipts": receipts,
        "first_submissions": _first_per_student(receipts),
        "scores": scores,
        "pass_rates": pass_rates,
        "progress": progress,
        "late": [sid for sid, e in entries.items() if e["state"] == "late"],
        "missing": [sid for sid, e in entries.items() if e["state"] == "missing"],
        "presenters": drawn,
        "pass_threshold": course.policy.pass_threshold,
    }


def _first_per_student(receipts: list[tuple[str, dt.datetime]]) -> list[dt.datetime]:
    seen, out = set(), []
    for student_id, moment in receipts:
        if student_id not in seen:
            seen.add(student_id)
            out.append(moment)
    return out


def feedback_names(ws: Workspace, receipts: list[Receipt]) -> dict[int, list[str]]:
    """The feedback files returned on each receipt (the exchange keeps them), by receipt id."""
    from course.store import CourseExchange

    exchange = CourseExchange(ws.course_file)
    try:
        return {r.id: sorted(exchange.feedback_files(r)) for r in receipts}
    finally:
        exchange.close()


def feedback_file(ws: Workspace, receipt_id: int, name: str) -> tuple[str, bytes] | None:
    """(the student it belongs to, the file) of one returned feedback file, or None."""
    from course.gradebook.records import get_receipt
    from course.store import CourseExchange

    with ws.gradebook() as gb:
        receipt = get_receipt(gb, receipt_id)
        if receipt is None:
            return None
        exchange = CourseExchange(ws.course_file)
        try:
            content = exchange.feedback_files(receipt).get(name)
        finally:
            exchange.close()
        return (receipt.student_id, content) if content is not None else None


def feedback_held(ws: Workspace, receipt_id: int, now: dt.datetime) -> str | None:
    """Why the student may not see the feedback on ``receipt_id`` at ``now`` (the course
    file's ``feedback: {when: ...}``), or None when they may (or there is no such receipt)."""
    from course.feedback_gate import feedback_open
    from course.gradebook.records import get_receipt

    with ws.gradebook() as gb:
        receipt = get_receipt(gb, receipt_id)
        if receipt is None:
            return None
        opening = feedback_open(ws.course, gb, receipt.student_id, receipt.assignment_id, now)
        return None if opening.open else opening.reason


@dataclass(frozen=True)
class Grant:
    """An extension, excuse or score override with who set it, when and why (and its end)."""

    kind: str  # extension | excuse | override
    assignment_id: str
    detail: str
    by: str
    at: dt.datetime
    reason: str
    ended: str = ""  # "revoked by ina on ...: why", empty while in force


def _grants(gb, student_id: str, zone) -> list[Grant]:
    out = []
    for row in gb.session.scalars(select(Extension).where(Extension.student_id == student_id)):
        ended = (f"revoked by {row.revoked_by} on {_when(row.revoked_at, zone)}: "
                 f"{row.revoke_reason}" if row.revoked_at else "")
        out.append(Grant("extension", row.assignment_id, f"until {_when(row.until, zone)}",
                         row.granted_by, row.granted_at, row.reason, ended))
    for row in gb.session.scalars(select(Excuse).where(Excuse.student_id == student_id)):
        ended = (f"revoked by {row.revoked_by} on {_when(row.revoked_at, zone)}: "
                 f"{row.revoke_reason}" if row.revoked_at else "")
        out.append(Grant("excuse", row.assignment_id, "not counted as a miss", row.granted_by,
                         row.granted_at, row.reason, ended))
    for row in gb.session.scalars(select(ScoreOverride)
                                  .where(ScoreOverride.student_id == student_id)):
        out_of = f"/{row.max_score:g}" if row.max_score else ""
        ended = (f"cleared by {row.cleared_by} on {_when(row.cleared_at, zone)}: "
                 f"{row.clear_reason}" if row.cleared_at else "")
        out.append(Grant("override", row.assignment_id, f"score {row.score:g}{out_of}",
                         row.set_by, row.set_at, row.reason, ended))
    return sorted(out, key=lambda grant: grant.at)


def student_page(ws: Workspace, student_id: str, now: dt.datetime, *,
                 staff: bool, standing: dict | None = None) -> dict:
    """One student's page. ``staff``: the instructor's view, with hidden tests' scores and the
    reasons of grants; a student's own view leaves those out."""
    course = ws.course
    person = course.student(student_id)  # UnknownId for a bad id
    data = standing or standing_data(ws, now)
    (me,) = [s for s in data["students"] if s["id"] == student_id]
    zone = course.zone
    with ws.gradebook() as gb:
        receipts = list(gb.session.scalars(
            select(Receipt).where(Receipt.student_id == student_id, Receipt.received_at <= now)
            .order_by(Receipt.received_at, Receipt.id)))
        returned = feedback_names(ws, receipts)
        if not staff:  # before its time (the course file's feedback: when) a student sees none
            from course.feedback_gate import feedback_open

            shut = {r.assignment_id for r in receipts if returned.get(r.id) and not
                    feedback_open(course, gb, student_id, r.assignment_id, now).open}
            returned = {r.id: returned.get(r.id, []) for r in receipts
                        if r.assignment_id not in shut}
        receipts = [{"assignment": r.assignment_id, "id": r.id, "received_at": r.received_at,
                     "size_bytes": r.size_bytes, "sha256": r.sha256,
                     "feedback": returned.get(r.id, [])} for r in receipts]
        grants = [g for g in _grants(gb, student_id, zone) if g.at <= now]
        presentations = [
            {"assignment": row.assignment_id, "drawn_at": row.drawn_at, "by": row.drawn_by,
             "absent": row.absent, "withdrawn": bool(row.withdrawn_at)}
            for row in gb.session.scalars(select(Presentation)
                                          .where(Presentation.student_id == student_id)
                                          .order_by(Presentation.drawn_at))
            if row.drawn_at <= now]
        summaries = [d for d in duties(course, gb, now) if student_id in d.authors]
    tests = {a.id: test_scores(ws, student_id, a.id) for a in course.assignments} if staff \
        else {}
    allowance = course.policy.excused_misses
    return {
        "student": person,
        "me": me,
        "deadlines": [{"assignment": a, "due": course.due(a.id),
                       "effective_due": dt.datetime.fromisoformat(
                           me["assignments"][a.id]["effective_due_utc"]),
                       "entry": me["assignments"][a.id]} for a in course.assignments],
        "receipts": receipts,
        "grants": grants,
        "tests": tests,
        "presentations": presentations,
        "summaries": summaries,
        "misses": me["misses"],
        "allowance": allowance,
        "budget_text": budget_text(me["misses"], allowance, me["status_text"],
                                   who=person.name if staff else None),
        "withdrawal": withdrawal_ends(course),
    }


def budget_text(misses: int, allowance: int, status_text: str, *,
                who: str | None = None) -> str:
    """The excused-miss budget in plain words, to the student (or, ``who``, about them)."""
    text = _budget_text(misses, allowance, status_text)
    if who is None:
        return text
    return text.replace("You have", f"{who} has").replace("your ", "their ")


def _budget_text(misses: int, allowance: int, status_text: str) -> str:
    if misses > allowance:
        return (f"You have missed {misses} assignments; {allowance} "
                f"{'is' if allowance == 1 else 'are'} allowed. {status_text.capitalize()}.")
    left = allowance - misses
    used = f"You have used {misses} of your {allowance} excused " \
           f"{'miss' if allowance == 1 else 'misses'}."
    if left == 0:
        return f"{used} One more miss means exclusion from the course."
    return f"{used} {left} more {'miss is' if left == 1 else 'misses are'} allowed."


def late_day_form(ws: Workspace, student_id: str, now: dt.datetime) -> dict | None:
    """What the student's late-day form shows (``policy.late_days`` spent on request): the
    days left and, per assignment, the days asked for and what may be done now; None in a
    course that spends them automatically or gives none."""
    from course.late_days import late_day_rows

    policy = ws.course.policy
    if not (policy.late_day_budget and policy.late_days_on_request):
        return None
    with ws.gradebook() as gb:
        held, rows = late_day_rows(ws, gb, student_id, now)
    return {"left": held.left, "budget": held.budget, "rows": rows}

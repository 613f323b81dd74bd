"""Reading and writing our own gradebook rows, and gathering the facts the policy judges."""

from __future__ import annotations

import datetime as dt
import getpass
import os

from sqlalchemy import select

from ..calendar import utcnow
from ..coursefile import Course
from ..policy import Facts, Graded, GradingError
from .database import Gradebook
from .models import Excuse, Extension, GradingRun, Receipt, Release

__all__ = [
    "add_receipt",
    "current_user",
    "finish_run",
    "gather_facts",
    "grant_excuse",
    "grant_extension",
    "receipts_for",
    "record_release",
    "release_times",
    "start_run",
]


def current_user() -> str:
    """Who is granting or releasing: $COURSE_USER, else the login name."""
    return os.environ.get("COURSE_USER") or getpass.getuser()


def add_receipt(gb: Gradebook, **fields) -> Receipt:
    receipt = Receipt(**fields)
    gb.session.add(receipt)
    gb.session.flush()
    return receipt


def receipts_for(gb: Gradebook, assignment_id: str) -> list[Receipt]:
    query = select(Receipt).where(Receipt.assignment_id == assignment_id).order_by(Receipt.id)
    return list(gb.session.scalars(query))


def grant_extension(gb: Gradebook, student_id: str, assignment_id: str, until: dt.datetime,
                    reason: str, by: str | None = None) -> Extension:
    row = Extension(student_id=student_id, assignment_id=assignment_id, until=until, reason=reason,
                    granted_by=by or current_user(), granted_at=utcnow())
    gb.session.add(row)
    return row


def grant_excuse(gb: Gradebook, student_id: str, assignment_id: str, reason: str,
                 by: str | None = None) -> Excuse:
    row = Excuse(student_id=student_id, assignment_id=assignment_id, reason=reason,
                 granted_by=by or current_user(), granted_at=utcnow())
    gb.session.add(row)
    return row


def record_release(gb: Gradebook, assignment_id: str, checksum: str, *,
                   now: dt.datetime) -> Release:
    row = Release(assignment_id=assignment_id, released_at=now, released_by=current_user(),
                  checksum=checksum)
    gb.session.add(row)
    return row


def start_run(gb: Gradebook, student_id: str, assignment_id: str, receipt_id: int | None,
              engine: str, grader_version: str) -> GradingRun:
    """A run row for this grading; the same submission graded again by the same graders
    reuses its row (a re-grade replaces, it does not duplicate)."""
    key = {"student_id": student_id, "assignment_id": assignment_id, "receipt_id": receipt_id,
           "engine": engine, "grader_version": grader_version}
    run = gb.session.scalars(select(GradingRun).filter_by(**key)).first()
    if run is None:
        run = GradingRun(**key)
        gb.session.add(run)
    run.started_at, run.finished_at, run.outcome, run.message = utcnow(), None, "running", ""
    run.score = run.max_score = None
    gb.session.commit()  # a crash mid-grade leaves a visible 'running' row
    return run


def finish_run(gb: Gradebook, run: GradingRun, outcome: str, message: str = "",
               score: float | None = None, max_score: float | None = None) -> None:
    run.outcome, run.message, run.score, run.max_score = outcome, message, score, max_score
    run.finished_at = utcnow()
    gb.session.commit()


def _latest_by_pair(rows, key=lambda row: row.id):
    latest = {}
    for row in sorted(rows, key=key):
        latest[(row.student_id, row.assignment_id)] = row
    return latest


def release_times(gb: Gradebook, course: Course) -> dict[str, dt.datetime]:
    """When each released assignment became visible: its first release, or the course file's
    ``release:`` time if that is later (the exchange hides it until then)."""
    first: dict[str, dt.datetime] = {}
    for row in gb.session.scalars(select(Release)):
        if row.assignment_id not in first or row.released_at < first[row.assignment_id]:
            first[row.assignment_id] = row.released_at
    for assignment in course.assignments:
        if assignment.id in first and assignment.release is not None:
            first[assignment.id] = max(first[assignment.id], assignment.release)
    return first


def gather_facts(gb: Gradebook, course: Course) -> Facts:
    """Receipts, releases, extensions, excuses, grading errors and scores for the policy.

    A score is tied to the receipt its grading run graded. nbgrader's score (which includes
    hand grading in the formgrader) is used while the latest run of that pair succeeded; after a
    failed re-grade the last good run's own score stands.
    """
    facts = Facts(releases=release_times(gb, course))
    received = {}
    for receipt in gb.session.scalars(select(Receipt)):
        received[receipt.id] = receipt.received_at
        facts.receipts.setdefault((receipt.student_id, receipt.assignment_id), []).append(
            receipt.received_at
        )
    for pair, ext in _latest_by_pair(gb.session.scalars(select(Extension))).items():
        facts.extensions[pair] = ext.until
    for pair, excuse in _latest_by_pair(gb.session.scalars(select(Excuse))).items():
        facts.excuses[pair] = excuse.reason
    runs = [run for run in gb.session.scalars(select(GradingRun)) if run.outcome != "running"]
    by_start = lambda run: (run.started_at, run.id)  # a re-grade reuses its (older) row
    latest = _latest_by_pair(runs, key=by_start)
    good = _latest_by_pair([run for run in runs if run.outcome == "success"], key=by_start)
    for pair, run in latest.items():
        if run.outcome != "success":
            facts.grading_errors[pair] = GradingError(run.message, received.get(run.receipt_id),
                                                      unreadable=run.outcome == "unreadable")
    nbgrader_scores = _nbgrader_scores(gb, course)
    for pair, run in good.items():
        when = received.get(run.receipt_id)
        if when is None or run.score is None:
            continue
        score, max_score = run.score, run.max_score
        if latest[pair] is run and pair in nbgrader_scores:
            score, max_score = nbgrader_scores[pair]
        facts.scores[pair] = Graded(score, max_score, when)
    return facts


def _nbgrader_scores(gb: Gradebook, course: Course) -> dict[tuple[str, str], tuple[float, float]]:
    known = {a.name for a in gb.nb.assignments}
    scores = {}
    for assignment in course.assignments:
        if assignment.id in known:
            for submission in gb.nb.find_assignment(assignment.id).submissions:
                scores[(submission.student.id, assignment.id)] = (submission.score,
                                                                  submission.max_score)
    return scores

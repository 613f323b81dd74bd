"""Reading and writing our own gradebook rows, and gathering the facts the policy judges."""

from __future__ import annotations

import datetime as dt
import getpass
import os

from sqlalchemy import select

from ..calendar import utcnow
from ..coursefile import Course
from ..policy import Facts
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


def record_release(gb: Gradebook, assignment_id: str, checksum: str) -> Release:
    row = Release(assignment_id=assignment_id, released_at=utcnow(), released_by=current_user(),
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


def gather_facts(gb: Gradebook, course: Course) -> Facts:
    """Receipts, extensions, excuses, grading errors and nbgrader's scores for the policy."""
    facts = Facts()
    for receipt in gb.session.scalars(select(Receipt)):
        facts.receipts.setdefault((receipt.student_id, receipt.assignment_id), []).append(
            receipt.received_at
        )
    for pair, ext in _latest_by_pair(gb.session.scalars(select(Extension))).items():
        facts.extensions[pair] = ext.until
    for pair, excuse in _latest_by_pair(gb.session.scalars(select(Excuse))).items():
        facts.excuses[pair] = excuse.reason
    for pair, run in _latest_by_pair(gb.session.scalars(select(GradingRun))).items():
        if run.outcome == "error":
            facts.grading_errors[pair] = run.message
    known = {a.name for a in gb.nb.assignments}
    for assignment in course.assignments:
        if assignment.id not in known:
            continue
        for submission in gb.nb.find_assignment(assignment.id).submissions:
            pair = (submission.student.id, assignment.id)
            if pair not in facts.grading_errors:
                facts.scores[pair] = (submission.score, submission.max_score)
    return facts

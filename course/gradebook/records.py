"""Reading and writing our own gradebook rows, and gathering the facts the policy judges."""

from __future__ import annotations

import datetime as dt
import getpass
import os

from sqlalchemy import case, column, func, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..calendar import utcnow
from ..coursefile import Course
from ..errors import UserError
from ..policy import Facts, Graded, GradingError, Override
from .database import Gradebook
from .models import (
    Excuse,
    Extension,
    GradingRun,
    Receipt,
    Release,
    RosterEvent,
    ScoreOverride,
    SyncState,
)

__all__ = [
    "active_override",
    "add_receipt",
    "clear_override",
    "current_excuse",
    "current_extension",
    "current_user",
    "finish_run",
    "gather_facts",
    "get_receipt",
    "grant_excuse",
    "grant_extension",
    "nbgrader_scores",
    "nbgrader_sync_digest",
    "receipts_for",
    "receipts_where",
    "record_nbgrader_sync",
    "record_release",
    "record_roster_drop",
    "release_times",
    "revoke_excuse",
    "revoke_extension",
    "set_override",
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


def receipts_where(gb: Gradebook, *, student_id: str | None = None,
                   assignment_id: str | None = None) -> list[Receipt]:
    """Receipts in the order received, of one student and/or one assignment (None: any)."""
    query = select(Receipt).order_by(Receipt.received_at, Receipt.id)
    if student_id is not None:
        query = query.where(Receipt.student_id == student_id)
    if assignment_id is not None:
        query = query.where(Receipt.assignment_id == assignment_id)
    return list(gb.session.scalars(query))


def get_receipt(gb: Gradebook, receipt_id: int) -> Receipt | None:
    return gb.session.get(Receipt, receipt_id)


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


def _current(gb: Gradebook, model, student_id: str, assignment_id: str):
    """The grant in force for a pair: the latest one not revoked, or None."""
    query = (select(model)
             .where(model.student_id == student_id, model.assignment_id == assignment_id,
                    model.revoked_at.is_(None))
             .order_by(model.id.desc()))
    return gb.session.scalars(query).first()


def current_extension(gb: Gradebook, student_id: str, assignment_id: str) -> Extension | None:
    return _current(gb, Extension, student_id, assignment_id)


def current_excuse(gb: Gradebook, student_id: str, assignment_id: str) -> Excuse | None:
    return _current(gb, Excuse, student_id, assignment_id)


def _revoke(gb: Gradebook, model, what: str, student_id: str, assignment_id: str, reason: str,
            now: dt.datetime, by: str | None):
    row = _current(gb, model, student_id, assignment_id)
    if row is None:
        raise UserError(f"{student_id} has no {what} for {assignment_id} to revoke")
    row.revoked_at, row.revoked_by, row.revoke_reason = now, by or current_user(), reason
    gb.session.flush()
    return row


def revoke_extension(gb: Gradebook, student_id: str, assignment_id: str, reason: str, *,
                     now: dt.datetime, by: str | None = None) -> Extension:
    """Revoke the extension in force (kept on record); an earlier one not revoked, if any, is
    in force again. Refused when there is none."""
    return _revoke(gb, Extension, "extension", student_id, assignment_id, reason, now, by)


def revoke_excuse(gb: Gradebook, student_id: str, assignment_id: str, reason: str, *,
                  now: dt.datetime, by: str | None = None) -> Excuse:
    """Revoke the excuse in force (kept on record). Refused when there is none."""
    return _revoke(gb, Excuse, "excuse", student_id, assignment_id, reason, now, by)


def active_override(gb: Gradebook, student_id: str, assignment_id: str) -> ScoreOverride | None:
    query = (select(ScoreOverride)
             .where(ScoreOverride.student_id == student_id,
                    ScoreOverride.assignment_id == assignment_id,
                    ScoreOverride.cleared_at.is_(None))
             .order_by(ScoreOverride.id.desc()))
    return gb.session.scalars(query).first()


def _clear_all(gb: Gradebook, student_id: str, assignment_id: str, reason: str,
               now: dt.datetime, by: str) -> list[ScoreOverride]:
    query = select(ScoreOverride).where(ScoreOverride.student_id == student_id,
                                        ScoreOverride.assignment_id == assignment_id,
                                        ScoreOverride.cleared_at.is_(None))
    rows = list(gb.session.scalars(query))
    for row in rows:
        row.cleared_at, row.cleared_by, row.clear_reason = now, by, reason
    return rows


def set_override(gb: Gradebook, student_id: str, assignment_id: str, score: float, reason: str,
                 *, now: dt.datetime, max_score: float | None = None,
                 by: str | None = None) -> ScoreOverride:
    """Set a pair's score by hand; an override already in force is cleared (kept on record)."""
    by = by or current_user()
    _clear_all(gb, student_id, assignment_id, f"replaced: {reason}", now, by)
    row = ScoreOverride(student_id=student_id, assignment_id=assignment_id, score=score,
                        max_score=max_score, reason=reason, set_by=by, set_at=now)
    gb.session.add(row)
    gb.session.flush()
    return row


def clear_override(gb: Gradebook, student_id: str, assignment_id: str, reason: str, *,
                   now: dt.datetime, by: str | None = None) -> ScoreOverride:
    """Clear the override in force (kept on record): the graded score counts again."""
    current = active_override(gb, student_id, assignment_id)
    if current is None:
        raise UserError(f"{student_id} has no score override for {assignment_id} to clear")
    _clear_all(gb, student_id, assignment_id, reason, now, by or current_user())
    gb.session.flush()
    return current


def record_roster_drop(gb: Gradebook, student_id: str, reason: str, *, now: dt.datetime,
                       by: str | None = None) -> RosterEvent:
    row = RosterEvent(student_id=student_id, action="drop", changed_at=now,
                      changed_by=by or current_user(), reason=reason)
    gb.session.add(row)
    gb.session.flush()
    return row


def record_release(gb: Gradebook, assignment_id: str, checksum: str, *,
                   now: dt.datetime, by: str | None = None) -> Release:
    row = Release(assignment_id=assignment_id, released_at=now, released_by=by or current_user(),
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
    """Receipts, releases, extensions, excuses, grading errors, scores and score overrides for
    the policy. Revoked extensions and excuses and cleared overrides are left out.

    A score is tied to the receipt its grading run graded. nbgrader's score (which includes
    hand grading in the formgrader) is used while the latest run of that pair succeeded; after a
    failed re-grade the last good run's own score stands.
    """
    facts = Facts(releases=release_times(gb, course))
    received = {}
    # the columns needed, not the models: a big course has thousands of receipts and runs
    receipts = select(Receipt.id, Receipt.student_id, Receipt.assignment_id, Receipt.received_at)
    for receipt in gb.session.execute(receipts.order_by(Receipt.id)):
        received[receipt.id] = receipt.received_at
        facts.receipts.setdefault((receipt.student_id, receipt.assignment_id), []).append(
            receipt.received_at
        )
    in_force = lambda model: gb.session.scalars(select(model).where(model.revoked_at.is_(None)))
    for pair, ext in _latest_by_pair(in_force(Extension)).items():
        facts.extensions[pair] = ext.until
    for pair, excuse in _latest_by_pair(in_force(Excuse)).items():
        facts.excuses[pair] = excuse.reason
    not_cleared = select(ScoreOverride).where(ScoreOverride.cleared_at.is_(None))
    for pair, row in _latest_by_pair(gb.session.scalars(not_cleared)).items():
        facts.overrides[pair] = Override(row.score, row.reason, row.set_by, row.set_at,
                                         row.max_score)
    columns = ("id", "student_id", "assignment_id", "receipt_id", "started_at", "outcome",
               "message", "score", "max_score")
    runs = list(gb.session.execute(select(*(getattr(GradingRun, name) for name in columns))
                                   .where(GradingRun.outcome != "running")))
    by_start = lambda run: (run.started_at, run.id)  # a re-grade reuses its (older) row
    latest = _latest_by_pair(runs, key=by_start)
    good = _latest_by_pair([run for run in runs if run.outcome == "success"], key=by_start)
    for pair, run in latest.items():
        if run.outcome != "success":
            facts.grading_errors[pair] = GradingError(run.message, received.get(run.receipt_id),
                                                      unreadable=run.outcome == "unreadable")
    nbgrader = nbgrader_scores(gb, [assignment.id for assignment in course.assignments])
    for pair, run in good.items():
        when = received.get(run.receipt_id)
        if when is None or run.score is None:
            continue
        score, max_score = run.score, run.max_score
        if latest[pair] is run and pair in nbgrader:
            score, max_score = nbgrader[pair]
        facts.scores[pair] = Graded(score, max_score, when)
    return facts


# nbgrader's tables, as much of them as its scores need (nbgrader.api defines them)
_assignment = table("assignment", column("id"), column("name"))
_notebook = table("notebook", column("id"), column("assignment_id"))
_cell = table("base_cell", column("id"), column("notebook_id"))
_submission = table("submitted_assignment", column("id"), column("assignment_id"),
                    column("student_id"))
_submitted_notebook = table("submitted_notebook", column("id"), column("assignment_id"))
_grade = table("grade", column("notebook_id"), column("auto_score"), column("manual_score"),
               column("extra_credit"))


def nbgrader_scores(gb: Gradebook, assignment_ids: list[str]
                    ) -> dict[tuple[str, str], tuple[float, float]]:
    """nbgrader's score and max score of each submission of these assignments, by (student,
    assignment), hand grading in the formgrader included.

    Read from nbgrader's tables in two queries, as nbgrader defines them: a grade counts its
    manual score, else its automatic one (else 0), plus any extra credit; a submission scores
    the sum of its grades, out of the sum of the max scores of the assignment's graded cells
    (grade cells and task cells). nbgrader's own Gradebook would cost two queries per
    submission, and importing nbgrader about 2 s.
    """
    extra = func.coalesce(_grade.c.extra_credit, 0.0)
    points = case((_grade.c.manual_score.is_not(None), _grade.c.manual_score + extra),
                  (_grade.c.auto_score.is_not(None), _grade.c.auto_score + extra), else_=0.0)
    scored = (select(_submission.c.student_id, _assignment.c.name,
                     func.coalesce(func.sum(points), 0.0))
              .select_from(_submission
                           .join(_assignment, _submission.c.assignment_id == _assignment.c.id)
                           .outerjoin(_submitted_notebook,
                                      _submitted_notebook.c.assignment_id == _submission.c.id)
                           .outerjoin(_grade, _grade.c.notebook_id == _submitted_notebook.c.id))
              .where(_assignment.c.name.in_(assignment_ids))
              .group_by(_submission.c.student_id, _assignment.c.name))
    max_scores: dict[str, float] = {}
    for cells_table in ("grade_cells", "task_cells"):
        cells = table(cells_table, column("id"), column("max_score"))
        query = (select(_assignment.c.name, func.sum(cells.c.max_score))
                 .select_from(_assignment
                              .join(_notebook, _notebook.c.assignment_id == _assignment.c.id)
                              .join(_cell, _cell.c.notebook_id == _notebook.c.id)
                              .join(cells, cells.c.id == _cell.c.id))
                 .where(_assignment.c.name.in_(assignment_ids))
                 .group_by(_assignment.c.name))
        for name, total in gb.session.execute(query):
            max_scores[name] = max_scores.get(name, 0.0) + (total or 0.0)
    return {(student, name): (score, max_scores.get(name, 0.0))
            for student, name, score in gb.session.execute(scored)}


NBGRADER = "nbgrader"  # SyncState.target of what the workspace writes into nbgrader's tables


def nbgrader_sync_digest(gb: Gradebook) -> str | None:
    """The digest of what was last written into nbgrader's tables; None if nothing was yet.
    Read outside the caller's session (its pending work is neither flushed nor committed)."""
    with Session(gb.engine) as session:
        row = session.get(SyncState, NBGRADER)
        return row.digest if row is not None else None


def record_nbgrader_sync(gb: Gradebook, digest: str, *, now: dt.datetime) -> None:
    """Record, in a transaction of its own, that nbgrader's tables now hold ``digest``'s data."""
    try:
        with Session(gb.engine) as session, session.begin():
            session.merge(SyncState(target=NBGRADER, digest=digest, synced_at=now))
    except IntegrityError:
        pass  # another process recorded its sync at the same moment; the next open re-checks

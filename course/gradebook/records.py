"""Reading and writing our own gradebook rows, and gathering the facts the policy judges."""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..calendar import utcnow
from ..coursefile import Course
from ..errors import UserError
from ..policy import Facts, effective_deadline, student_deadline
from . import reading
from .database import Gradebook
from .models import (
    Excuse,
    Extension,
    GradingRun,
    LateDayRequest,
    Receipt,
    Release,
    RosterEvent,
    ScoreOverride,
    SyncState,
)

__all__ = [
    "PairDeadline",
    "active_override",
    "add_receipt",
    "clear_override",
    "current_excuse",
    "current_extension",
    "current_user",
    "deadline_with_late_days",
    "finish_run",
    "gather_facts",
    "get_receipt",
    "grant_excuse",
    "grant_extension",
    "nbgrader_scores",
    "nbgrader_sync_digest",
    "pair_deadline",
    "receipt_times",
    "receipts_for",
    "receipts_where",
    "record_nbgrader_sync",
    "record_release",
    "record_roster_drop",
    "release_times",
    "revoke_excuse",
    "revoke_extension",
    "session_rows",
    "set_override",
    "start_run",
]


NO_PERSON = ("root",)  # login names that are no person of a course: a container's shell


def current_user() -> str:
    """Who is granting or releasing: $COURSE_USER, else the login name. Root's shell (the hub
    container's, where ``exec`` lands) is nobody's: it would record "by root" for students to
    see, so such a login must say who it is."""
    named = os.environ.get("COURSE_USER")
    if named:
        return named
    login = getpass.getuser()
    if login in NO_PERSON:
        raise UserError(
            f"who is doing this? A command run as {login} records no person: set $COURSE_USER "
            "to your id in the course (deploy/compose.sh exec -e COURSE_USER=ina hub course ...), "
            "or work from the formgrader and the dashboard, which record you by name")
    return login


_INSERT_RECEIPT = Receipt.__table__.insert()


def add_receipt(gb: Gradebook, **fields) -> Receipt:
    """Add a receipt row to the open transaction with one INSERT (not the ORM's unit of work,
    which cost a hand-in more than the rest of its database work) and return it, its id
    known. The object returned is the row's values, not attached to the session (receipts are
    never updated): a rollback leaves no object claiming a row that is gone."""
    inserted = gb.session.connection().execute(_INSERT_RECEIPT, fields)
    return Receipt(id=inserted.inserted_primary_key[0], **fields)


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


_RECEIPT_TIMES = select(Receipt.id, Receipt.received_at).where(
    Receipt.student_id == bindparam("student"), Receipt.assignment_id == bindparam("assignment"))


def receipt_times(gb: Gradebook, student_id: str, assignment_id: str) -> dict[int, dt.datetime]:
    """When each receipt of one pair arrived, by receipt id (two columns, no rows built)."""
    return dict(gb.session.connection().execute(_RECEIPT_TIMES, {
        "student": student_id, "assignment": assignment_id}).all())


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


@functools.cache
def _current_query(model):
    # built once: an expression's construction costs more than its (cached) compilation, and
    # a receipt's reply asks for two grants
    return (select(model)
            .where(model.student_id == bindparam("student"),
                   model.assignment_id == bindparam("assignment"), model.revoked_at.is_(None))
            .order_by(model.id.desc()).limit(1))


def _current(gb: Gradebook, model, student_id: str, assignment_id: str):
    """The grant in force for a pair: the latest one not revoked, or None."""
    return gb.session.scalars(_current_query(model),
                              {"student": student_id, "assignment": assignment_id}).first()


def current_extension(gb: Gradebook, student_id: str, assignment_id: str) -> Extension | None:
    return _current(gb, Extension, student_id, assignment_id)


def current_excuse(gb: Gradebook, student_id: str, assignment_id: str) -> Excuse | None:
    return _current(gb, Excuse, student_id, assignment_id)


@dataclass(frozen=True)
class PairDeadline:
    """One student's deadlines for one assignment, read once for everything a receipt's reply
    says: ``due`` (the course's), ``extended`` (their extension's end when later),
    ``deadline`` (``extended`` moved by the late days they asked for: ``policy.student_deadline``)
    and the reason of the excuse in force, if any."""

    due: dt.datetime
    extended: dt.datetime
    deadline: dt.datetime
    excuse_reason: str | None


def _deadline_facts(gb: Gradebook, course: Course, student_id: str, assignment_id: str,
                    extension: dt.datetime | None) -> Facts:
    """What moves one pair's deadline, for its student alone: their extension in force (its
    end: ``extension``) and their late days asked for (all of theirs: the budget is honoured
    in order)."""
    facts = Facts()
    if extension is not None:
        facts.extensions[(student_id, assignment_id)] = extension
    if course.policy.late_days_on_request:  # else none count: nothing to read
        asked = select(LateDayRequest).where(LateDayRequest.student_id == student_id,
                                             LateDayRequest.withdrawn_at.is_(None))
        for row in gb.session.scalars(asked.order_by(LateDayRequest.id)):  # latest per pair
            facts.late_day_requests[(student_id, row.assignment_id)] = row.days
    return facts


def _in_force(column):
    model = column.class_
    return (select(column).where(model.student_id == bindparam("student"),
                                 model.assignment_id == bindparam("assignment"),
                                 model.revoked_at.is_(None))
            .order_by(model.id.desc()).limit(1).scalar_subquery())


# a pair's extension end and excuse reason in force, in one statement: every reply asks
_PAIR_GRANTS = select(_in_force(Extension.until), _in_force(Excuse.reason))


def pair_deadline(gb: Gradebook, course: Course, student_id: str,
                  assignment_id: str) -> PairDeadline:
    """``PairDeadline`` of one pair (two statements at most, for the whole reply)."""
    due = course.due(assignment_id)
    extension, excuse_reason = gb.session.connection().execute(  # Core: no ORM result work
        _PAIR_GRANTS, {"student": student_id, "assignment": assignment_id}).one()
    facts = _deadline_facts(gb, course, student_id, assignment_id, extension)
    return PairDeadline(due, effective_deadline(due, extension),
                        student_deadline(course, facts, student_id, assignment_id),
                        excuse_reason)


def deadline_with_late_days(gb: Gradebook, course: Course, student_id: str,
                            assignment_id: str) -> dt.datetime:
    """``policy.student_deadline`` of one pair, read for its student alone."""
    extension = current_extension(gb, student_id, assignment_id)
    facts = _deadline_facts(gb, course, student_id, assignment_id,
                            None if extension is None else extension.until)
    return student_deadline(course, facts, student_id, assignment_id)


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
    reuses its row (a re-grade replaces, it does not duplicate). The row keeps its score (only
    a success ever sets one) until the new grading closes it: a re-grade that fails (``course.grade_one.record_result``) leaves that score standing beside its
    error, never a score the submission did not earn."""
    key = {"student_id": student_id, "assignment_id": assignment_id, "receipt_id": receipt_id,
           "engine": engine, "grader_version": grader_version}
    run = gb.session.scalars(select(GradingRun).filter_by(**key)).first()
    if run is None:
        run = GradingRun(**key)
        gb.session.add(run)
    run.started_at, run.finished_at, run.outcome, run.message = utcnow(), None, "running", ""
    gb.session.commit()  # a crash mid-grade leaves a visible 'running' row
    return run


def finish_run(gb: Gradebook, run: GradingRun, outcome: str, message: str = "",
               score: float | None = None, max_score: float | None = None) -> None:
    run.outcome, run.message, run.score, run.max_score = outcome, message, score, max_score
    run.finished_at = utcnow()
    gb.session.commit()


def session_rows(gb: Gradebook) -> reading.Rows:
    """``reading``'s SELECTs, run in the gradebook's session (``Gradebook.rows``)."""
    return gb.rows()


def release_times(gb: Gradebook, course: Course) -> dict[str, dt.datetime]:
    """When each released assignment became visible (``reading.release_times``)."""
    return reading.release_times(session_rows(gb), course)


def gather_facts(gb: Gradebook, course: Course) -> Facts:
    """The facts the policy judges, read in the gradebook's session (``reading.gather_facts``)."""
    return reading.gather_facts(session_rows(gb), course)


def nbgrader_scores(gb: Gradebook, assignment_ids: list[str]
                    ) -> dict[tuple[str, str], tuple[float, float]]:
    """nbgrader's score and max score of each submission of these assignments, by (student,
    assignment), hand grading included (``reading.nbgrader_scores``)."""
    return reading.nbgrader_scores(session_rows(gb), assignment_ids)


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

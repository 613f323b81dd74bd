"""Regrade requests' rows: filed by a student (or for one), answered once by staff. The rules
(who may ask, until when, for what) are ``course.regrades``'; this module stores, and keeps
each request's states: ``OPEN`` until answered ``ACCEPTED`` or ``REJECTED``.

Two people acting at once cannot both land: the table holds at most one open request per
student, assignment and test (a partial unique index), and an answer is written only onto a
row still open (``close_request``), whatever the row read earlier said."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from .database import Gradebook
from .models import RegradeRequest

__all__ = ["ACCEPTED", "OPEN", "REJECTED", "add_request", "close_request", "get_request",
           "link_override", "requests_where"]

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"


def add_request(gb: Gradebook, student_id: str, assignment_id: str, item: str, reason: str, *,
                now: dt.datetime, by: str) -> RegradeRequest:
    """Add an open request (``IntegrityError`` on flush: one for the same item is open)."""
    row = RegradeRequest(student_id=student_id, assignment_id=assignment_id, item=item,
                         reason=reason, filed_by=by, filed_at=now, state=OPEN)
    gb.session.add(row)
    gb.session.flush()
    return row


def get_request(gb: Gradebook, request_id: int) -> RegradeRequest | None:
    return gb.session.get(RegradeRequest, request_id)


def requests_where(gb: Gradebook, *, student_id: str | None = None,
                   assignment_id: str | None = None, state: str | None = None
                   ) -> list[RegradeRequest]:
    """Requests in the order filed, of one student, assignment and/or state (None: any)."""
    query = select(RegradeRequest).order_by(RegradeRequest.filed_at, RegradeRequest.id)
    if student_id is not None:
        query = query.where(RegradeRequest.student_id == student_id)
    if assignment_id is not None:
        query = query.where(RegradeRequest.assignment_id == assignment_id)
    if state is not None:
        query = query.where(RegradeRequest.state == state)
    return list(gb.session.scalars(query))


def close_request(gb: Gradebook, request_id: int, state: str, answer: str, *,
                  now: dt.datetime, by: str) -> bool:
    """Answer request ``request_id`` if it is still open, in one ``UPDATE ... WHERE state =
    'open'``: False when another answer landed first (nothing written). On PostgreSQL the
    second of two waits for the first's commit, then finds the row answered; on SQLite the
    write lock orders them the same way."""
    done = gb.session.execute(
        update(RegradeRequest)
        .where(RegradeRequest.id == request_id, RegradeRequest.state == OPEN)
        .values(state=state, answer=answer, answered_by=by, answered_at=now)
        .execution_options(synchronize_session=False))
    return done.rowcount == 1


def link_override(gb: Gradebook, request_id: int, override_id: int) -> None:
    """Name the score override an accept set on its request."""
    gb.session.execute(update(RegradeRequest).where(RegradeRequest.id == request_id)
                       .values(override_id=override_id)
                       .execution_options(synchronize_session=False))

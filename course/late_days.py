"""Late days spent on request (``policy.late_days: {budget: N, spend: on_request}``).

A student, from their dashboard page, or staff for them (``course late-days spend``) asks for
whole days on one assignment: its deadline moves that many days later on the course's clock
(``policy.late_day_deadline``) and the days are spent from the student's budget, used or not.

Late days are asked for before the deadline (the student's effective one: an extension's end
included, the late days not): asking, asking again for more or fewer (it replaces the request
in force) and withdrawing are refused once it has passed, and the days asked for stay spent.
Days asked for after it would let a student read the feedback returned at the deadline and
hand in a fixed version that counts. A request is refused, too, when the budget does not hold
it. At most one request per pair is in force (a unique index); a second one made at the same
moment is refused.

The budget is the course file's: nothing a request carries is trusted for it, and the policy
honours requests in deadline order only as far as the budget reaches
(``policy.honoured_requests``), so a budget lowered later is never exceeded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .calendar import readable_local
from .coursefile import Course
from .errors import UserError
from .gradebook.models import LateDayRequest
from .gradebook.records import gather_facts
from .policy import (
    by_deadline,
    effective_deadline,
    honoured_requests,
    late_days_text,
    student_deadline,
)
from .workspace import Workspace

__all__ = ["WITHDRAWN", "LateDayAccount", "LateDayRow", "account", "current_request",
           "late_day_rows", "requests_of", "spend", "withdraw"]

WITHDRAWN = "withdrawn"  # the reason recorded when a withdrawal gives none


@dataclass(frozen=True)
class LateDayAccount:
    """A student's late days: the course's budget and the days spent, by assignment."""

    student_id: str
    budget: int
    spent: dict[str, int]

    @property
    def left(self) -> int:
        return self.budget - sum(self.spent.values())


@dataclass(frozen=True)
class LateDayRow:
    """One assignment as the student's late-day form shows it."""

    assignment_id: str
    deadline: dt.datetime  # the effective deadline, without late days
    days: int  # asked for and in force (0: none)
    until: dt.datetime  # the deadline the days move it to
    can_withdraw: bool  # a request in force, and the deadline has not passed
    can_ask: bool  # the deadline has not passed, and a day is left


def _check_on_request(course: Course) -> None:
    policy = course.policy
    if not policy.late_day_budget:
        raise UserError("this course gives no late days (policy.late_days)")
    if not policy.late_days_on_request:
        raise UserError(f"this course spends its late days automatically on late hand-ins "
                        f"(policy.late_days: {policy.late_day_budget}): there is nothing to "
                        "ask for; late days are asked for with "
                        "late_days: {budget: N, spend: on_request}")


def current_request(gb, student_id: str, assignment_id: str) -> LateDayRequest | None:
    """The request in force for a pair: the latest one not withdrawn, or None."""
    query = (select(LateDayRequest)
             .where(LateDayRequest.student_id == student_id,
                    LateDayRequest.assignment_id == assignment_id,
                    LateDayRequest.withdrawn_at.is_(None))
             .order_by(LateDayRequest.id.desc()))
    return gb.session.scalars(query).first()


def requests_of(gb, student_id: str) -> list[LateDayRequest]:
    """Every request of a student, withdrawn ones included, in the order made."""
    return list(gb.session.scalars(select(LateDayRequest)
                                   .where(LateDayRequest.student_id == student_id)
                                   .order_by(LateDayRequest.id)))


def account(course: Course, facts, student_id: str) -> LateDayAccount:
    """The student's late days as the policy counts the requests (``honoured_requests``)."""
    honoured = honoured_requests(course, facts.late_day_requests)
    return LateDayAccount(student_id, course.policy.late_day_budget,
                          {aid: days for (sid, aid), days in honoured.items()
                           if sid == student_id})


def _deadline(course: Course, facts, student_id: str, assignment_id: str) -> dt.datetime:
    return effective_deadline(course.due(assignment_id),
                              facts.extensions.get((student_id, assignment_id)))


def spend(ws: Workspace, gb, student_id: str, assignment_id: str, days: int, *,
          now: dt.datetime, by: str) -> LateDayRequest:
    """Ask for ``days`` late days on one assignment for ``student_id`` (replacing a request in
    force); ``UserError`` saying why when refused. The caller commits."""
    course = ws.course
    _check_on_request(course)
    course.student(student_id)
    course.assignment(assignment_id)
    if days < 1:
        raise UserError(f"ask for at least 1 late day (got {days})")
    zone = course.zone
    facts = gather_facts(gb, course)
    deadline = _deadline(course, facts, student_id, assignment_id)
    current = current_request(gb, student_id, assignment_id)
    if not by_deadline(now, deadline):  # feedback may be out: no fixed version may count
        spent = f" (the {late_days_text(current.days)} asked for are spent)" \
            if current is not None else ""
        raise UserError(f"too late: the deadline of {assignment_id} passed "
                        f"{readable_local(deadline, zone)}{spent}; late days are asked for "
                        "before the deadline")
    if current is not None and current.days == days:
        raise UserError(f"{student_id} has asked for {late_days_text(days)} on "
                        f"{assignment_id} already")
    held = account(course, facts, student_id)
    elsewhere = {aid: n for aid, n in held.spent.items() if aid != assignment_id}
    left = held.budget - sum(elsewhere.values())
    if days > left:
        spent = ", ".join(f"{n} on {aid}" for aid, n in elsewhere.items()) or "none spent"
        raise UserError(f"{late_days_text(days)} asked for on {assignment_id}, but {student_id} has "
                        f"{left} of {held.budget} left ({spent})")
    if current is not None:
        current.withdrawn_at, current.withdrawn_by = now, by
        current.withdraw_reason = f"replaced by a request for {late_days_text(days)}"
    row = LateDayRequest(student_id=student_id, assignment_id=assignment_id, days=days,
                         requested_by=by, requested_at=now)
    gb.session.add(row)
    try:
        gb.session.flush()  # the withdrawal is written before the insert (updates go first)
    except IntegrityError:  # another request in force for the pair, made at the same moment
        gb.session.rollback()
        raise UserError(f"{student_id} asked for late days on {assignment_id} at the same "
                        "moment in another request: nothing was changed by this one; look "
                        "at what is in force and ask again") from None
    return row


def withdraw(ws: Workspace, gb, student_id: str, assignment_id: str, *, now: dt.datetime,
             by: str, reason: str | None = None) -> LateDayRequest:
    """Withdraw the request in force (kept on record; ``reason``: ``WITHDRAWN`` when none is
    given) while the deadline has not passed: its days are back in the budget. The caller
    commits."""
    course = ws.course
    _check_on_request(course)
    course.student(student_id)
    course.assignment(assignment_id)
    current = current_request(gb, student_id, assignment_id)
    if current is None:
        raise UserError(f"{student_id} has no late days asked for on {assignment_id} to "
                        "withdraw")
    deadline = _deadline(course, gather_facts(gb, course), student_id, assignment_id)
    if not by_deadline(now, deadline):
        raise UserError(f"the deadline of {assignment_id} passed "
                        f"{readable_local(deadline, course.zone)}: the "
                        f"{late_days_text(current.days)} asked for are spent")
    current.withdrawn_at, current.withdrawn_by = now, by
    current.withdraw_reason = reason or WITHDRAWN
    gb.session.flush()
    return current


def late_day_rows(ws: Workspace, gb, student_id: str, now: dt.datetime
                  ) -> tuple[LateDayAccount, list[LateDayRow]]:
    """The student's late days and, per assignment, what they asked for and may do now."""
    course = ws.course
    facts = gather_facts(gb, course)
    held = account(course, facts, student_id)
    rows = []
    for assignment in course.assignments:
        deadline = _deadline(course, facts, student_id, assignment.id)
        days = held.spent.get(assignment.id, 0)
        open_now = by_deadline(now, deadline)
        rows.append(LateDayRow(
            assignment.id, deadline, days,
            student_deadline(course, facts, student_id, assignment.id),
            can_withdraw=bool(days) and open_now, can_ask=held.left > 0 and open_now))
    return held, rows

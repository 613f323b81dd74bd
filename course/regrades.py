"""Regrade requests (``policy.regrade_requests: {until: 7d}``): a student asks for one test or
cell of their graded work to be graded again, with a reason; staff accept with a new score
(a score override naming the request, so the policy, the exports and the LMS push follow) or
reject with a reason. The dashboard and ``course regrade`` both come here.

A request is taken when the course takes them, the student handed the assignment in, their work
is graded and names the test or cell, the reason is given and short enough, no request for the
same test is open, and ``now`` is by the window's close: ``until`` after the latest of the
student's deadline (their extension's end if later), the latest grading of their work and, with
``feedback: {when: after_hand_grading}``, the moment their feedback opened (the latest return of
it once grading by hand is done; until then the window does not close).

What a student may name is what their feedback shows them (``course.feedback_levels``): grade
cells by id always, a hidden test by name only once their feedback is open and the test's level
is above ``nothing``; a refusal never lists the others. Staff (``course regrade file``) may name
any test the grading reports name.

An accepted score is the assignment's final score: like any score override, no late penalty is
taken off it (``course.policy``), so staff see the graded score, the penalty and what counts
now beside each open request (``score_now``). Instructors accept; graders reject, and accept
only where the course file says ``regrade_requests: {graders_may_accept: true}``: an accept sets
the assignment's total, as ``course override`` does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from autograder.feedback_text import level_of
from autograder.results import GradingReport

from .calendar import readable_local
from .errors import UserError
from .feedback_gate import feedback_open
from .feedback_levels import feedback_rule
from .gradebook.models import GradingRun, RegradeRequest
from .gradebook.records import current_extension, gather_facts, receipts_where, set_override
from .gradebook.regrades import (
    ACCEPTED,
    OPEN,
    REJECTED,
    add_request,
    close_request,
    get_request,
    link_override,
    requests_where,
)
from .policy import effective_deadline
from .workspace import Workspace

__all__ = ["ACCEPTED", "FINAL", "MAX_REASON_CHARS", "OPEN", "REJECTED", "Window", "accept",
           "file_request", "graded_items", "may_accept", "open_windows", "reject",
           "requests_of", "score_now", "window"]

MAX_REASON_CHARS = 2000  # a reason, an answer: a paragraph, not an essay (the form says so)
MAX_ITEM_CHARS = 256  # a test's or cell's name (the column's width)
FINAL = "an accepted score is final: no late penalty is taken off it"


@dataclass(frozen=True)
class Window:
    """Until when a student may ask for a regrade of one assignment, and of what (``closes``
    None: their feedback is not open yet, and the window runs until ``until`` after it opens)."""

    assignment_id: str
    closes: dt.datetime | None
    items: tuple[str, ...]

    def open_at(self, now: dt.datetime) -> bool:
        return self.closes is None or now <= self.closes


def may_accept(course, role: str | None) -> bool:
    """Whether someone of ``role`` in ``course`` may accept a request (set a new score):
    instructors; graders only where the course file allows it. Both may reject."""
    settings = course.policy.regrade_requests
    return role == "instructor" or (role == "grader" and settings is not None
                                    and settings.graders_may_accept)


def graded_items(ws: Workspace, gb, student_id: str, assignment_id: str, *, now: dt.datetime,
                 staff: bool) -> tuple[str, ...] | None:
    """What may be named in a request on the student's latest good grading (None: no grading
    report, nothing graded): for ``staff`` every test (by name) and grade cell (by id); for the
    student what their feedback shows at ``now``, grade cells always, a hidden test's name only
    where the feedback is open and the test's level (its own marker, else the assignment's)
    is above ``nothing``."""
    reports = GradingReport.read_all(ws.root / "autograded" / student_id / assignment_id)
    if not reports:
        return None
    level = feedback_rule(ws.course, assignment_id).show
    names_shown = staff or feedback_open(ws.course, gb, student_id, assignment_id, now).open
    names: dict[str, None] = {}
    for report in reports:
        for test in report.tests:
            own = level_of(test.feedback) if test.feedback else level
            if names_shown and (staff or own != "nothing"):
                names[test.name] = None
            if test.grade_id:
                names[test.grade_id] = None
        names.update(dict.fromkeys(report.legacy_cells))
    return tuple(names)


def _last_graded(gb, student_id: str, assignment_id: str) -> dt.datetime | None:
    return gb.session.scalar(select(func.max(GradingRun.finished_at)).where(
        GradingRun.student_id == student_id, GradingRun.assignment_id == assignment_id,
        GradingRun.outcome == "success"))


def _feedback_opened(ws: Workspace, gb, student_id: str, assignment_id: str,
                     now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """(open, since when) of the student's feedback where it opens after grading by hand:
    hand grading leaves no time behind, so the time is that of the latest return of the
    feedback (``course feedback`` holds it until then); (False, None): not open or not
    returned yet. Other timings open by the deadline or the grading: (True, None)."""
    if feedback_rule(ws.course, assignment_id).when != "after_hand_grading":
        return True, None
    if not feedback_open(ws.course, gb, student_id, assignment_id, now).open:
        return False, None
    from .store import CourseExchange

    exchange = CourseExchange(ws.course_file)
    try:
        returned = [t for r in receipts_where(gb, student_id=student_id,
                                              assignment_id=assignment_id)
                    if (t := exchange.feedback_returned_at(r)) is not None and t <= now]
    finally:
        exchange.close()
    return (True, max(returned)) if returned else (False, None)


def window(ws: Workspace, gb, student_id: str, assignment_id: str, *, now: dt.datetime,
           staff: bool = False) -> Window | None:
    """The student's regrade window for the assignment at ``now`` (what they may name:
    ``graded_items``); None when the course takes no requests or nothing is graded."""
    settings = ws.course.policy.regrade_requests
    items = graded_items(ws, gb, student_id, assignment_id, now=now, staff=staff)
    if settings is None or items is None:
        return None
    extension = current_extension(gb, student_id, assignment_id)
    start = effective_deadline(ws.course.due(assignment_id),
                               extension.until if extension is not None else None)
    opened, since = _feedback_opened(ws, gb, student_id, assignment_id, now)
    if not opened:
        return Window(assignment_id, None, items)
    for moment in (_last_graded(gb, student_id, assignment_id), since):
        if moment is not None:
            start = max(start, moment)
    return Window(assignment_id, start + settings.until, items)


def open_windows(ws: Workspace, student_id: str, now: dt.datetime) -> list[Window]:
    """The assignments the student may ask a regrade of at ``now`` (handed in, graded, open,
    something to name), with what they may name."""
    with ws.gradebook() as gb:
        handed_in = {r.assignment_id for r in receipts_where(gb, student_id=student_id)
                     if r.received_at <= now}
        windows = [window(ws, gb, student_id, a.id, now=now) for a in ws.course.assignments
                   if a.id in handed_in]
    return [w for w in windows if w is not None and w.items and w.open_at(now)]


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise UserError(f"give {what}: it is recorded with the request")
    if len(value) > MAX_REASON_CHARS:
        raise UserError(f"{what} is {len(value)} characters long; at most {MAX_REASON_CHARS}")
    return value


def _already(item: str, student_id: str, assignment_id: str) -> UserError:
    return UserError(f"a regrade of {item} in {student_id}'s {assignment_id} is already asked "
                     "for and not answered yet")


def file_request(ws: Workspace, student_id: str, assignment_id: str, item: str, reason: str, *,
                 now: dt.datetime, by: str, staff: bool = False) -> RegradeRequest:
    """Record a request (refused, nothing written, with the reason why: ``UserError``; an
    unknown student or assignment: ``UnknownId``). ``staff``: filed by staff for the student,
    who may name any graded test; else the student names what their feedback shows."""
    course = ws.course
    if course.policy.regrade_requests is None:
        raise UserError(f"{course.id} takes no regrade requests (policy.regrade_requests is "
                        "not set in the course file)")
    course.student(student_id)
    course.assignment(assignment_id)
    reason = _text(reason, "a reason")
    item = item.strip()
    if not item or len(item) > MAX_ITEM_CHARS:
        raise UserError(f"name the test or cell to regrade (at most {MAX_ITEM_CHARS} characters)")
    with ws.gradebook() as gb:
        if not any(r.received_at <= now for r in receipts_where(
                gb, student_id=student_id, assignment_id=assignment_id)):
            raise UserError(f"{student_id} has not handed in {assignment_id}: nothing to regrade")
        found = window(ws, gb, student_id, assignment_id, now=now, staff=staff)
        if found is None:
            raise UserError(f"{student_id}'s {assignment_id} is not graded yet: nothing to "
                            "regrade")
        if item not in found.items:
            # a student is not told the names their feedback does not show (hidden tests)
            listed = f"; it has: {', '.join(found.items)}" if staff else ""
            raise UserError(f"{student_id}'s graded {assignment_id} has no test or cell "
                            f"{item!r}{listed}")
        if not found.open_at(now):
            raise UserError(f"regrade requests for {student_id}'s {assignment_id} closed on "
                            f"{readable_local(found.closes, course.zone)}")
        if any(r.item == item for r in requests_where(
                gb, student_id=student_id, assignment_id=assignment_id, state=OPEN)):
            raise _already(item, student_id, assignment_id)
        try:
            row = add_request(gb, student_id, assignment_id, item, reason, now=now, by=by)
            gb.commit()
        except IntegrityError:  # one filed at the same moment landed first (the unique index)
            gb.session.rollback()
            raise _already(item, student_id, assignment_id) from None
        return row


def _open_request(gb, request_id: int) -> RegradeRequest:
    row = get_request(gb, request_id)
    if row is None:
        raise UserError(f"no regrade request #{request_id}")
    if row.state != OPEN:
        raise UserError(f"regrade request #{request_id} was {row.state} already, by "
                        f"{row.answered_by}")
    return row


def _close(gb, row: RegradeRequest, state: str, answer: str, *, now: dt.datetime,
           by: str) -> None:
    """Answer the row if it is still open in the database; else nothing is written."""
    if not close_request(gb, row.id, state, answer, now=now, by=by):
        gb.session.rollback()
        gb.session.expire_all()
        again = get_request(gb, row.id)
        raise UserError(f"regrade request #{row.id} was {again.state} meanwhile, by "
                        f"{again.answered_by}: nothing changed")
    gb.session.refresh(row)


def _max_score(gb, ws: Workspace, row: RegradeRequest) -> float | None:
    """What the new score is out of: the graded max score, else the assignment's points."""
    facts = gather_facts(gb, ws.course)
    graded = facts.scores.get((row.student_id, row.assignment_id))
    if graded is not None and graded.max_score:
        return graded.max_score
    return facts.max_points.get(row.assignment_id)


def accept(ws: Workspace, request_id: int, score: float, answer: str, *, now: dt.datetime,
           by: str) -> RegradeRequest:
    """Accept an open request: ``score`` (the assignment's new total, final: ``FINAL``)
    becomes a score override whose reason names the request; the request keeps the
    override's id. Who may: ``may_accept`` (the caller checks the role)."""
    answer = _text(answer, "an answer")
    with ws.gradebook() as gb:
        row = _open_request(gb, request_id)
        out_of = _max_score(gb, ws, row)
        if out_of is None:
            raise UserError(f"{row.assignment_id} has no graded max score to set a score of")
        if not 0 <= score <= out_of:
            raise UserError(f"score {score:g} is not between 0 and the max score {out_of:g}")
        _close(gb, row, ACCEPTED, answer, now=now, by=by)  # first: a second accept stops here
        override = set_override(gb, row.student_id, row.assignment_id, score,
                                f"regrade request #{row.id} ({row.item}): {answer}", now=now,
                                max_score=out_of, by=by)
        link_override(gb, row.id, override.id)
        gb.commit()
        gb.session.refresh(row)
        return row


def reject(ws: Workspace, request_id: int, answer: str, *, now: dt.datetime,
           by: str) -> RegradeRequest:
    """Reject an open request, saying why; scores stay as they are."""
    answer = _text(answer, "a reason")
    with ws.gradebook() as gb:
        row = _open_request(gb, request_id)
        _close(gb, row, REJECTED, answer, now=now, by=by)
        gb.commit()
        gb.session.refresh(row)
        return row


def requests_of(ws: Workspace, *, student_id: str | None = None,
                assignment_id: str | None = None, open_only: bool = False
                ) -> list[RegradeRequest]:
    """Requests in the order filed (detached rows: read their columns, nothing lazy)."""
    if student_id is not None:
        ws.course.student(student_id)
    if assignment_id is not None:
        ws.course.assignment(assignment_id)
    with ws.gradebook() as gb:
        rows = requests_where(gb, student_id=student_id, assignment_id=assignment_id,
                              state=OPEN if open_only else None)
        gb.session.expunge_all()
        return rows


def score_now(standing: dict, student_id: str, assignment_id: str) -> str:
    """What the student's assignment counts now, in the status document ``standing``
    (``course.standing.standing_data``): the graded score, a late penalty and what counts, for
    staff to weigh before they set a final score."""
    student = next((s for s in standing["students"] if s["id"] == student_id), None)
    entry = student["assignments"].get(assignment_id) if student is not None else None
    if entry is None or entry.get("score") is None:
        return "no score counts now"
    out_of = f"/{entry['max_score']:g}" if entry.get("max_score") else ""
    counts = f"counts {entry['score']:g}{out_of}"
    if entry.get("override"):
        return f"{counts} (set by hand)"
    if entry.get("penalty") and entry.get("score_before_penalty") is not None:
        return f"graded {entry['score_before_penalty']:g}{out_of}, {entry['penalty']}: {counts}"
    return counts

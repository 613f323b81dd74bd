"""One student's history, in time order, from the gradebook: every receipt (and which one counts
for the policy, and why), extensions, excuses and score overrides (granted and revoked),
grading runs with their score and outcome, regrade requests and their answers, and the
presentations they were drawn for. What ``course history`` prints; it reads, it never writes.

Which receipt counts is ``collect.counting_receipts``' answer (``policy.pick_receipt``: the
latest one in time by the effective deadline, else the latest one), the receipt collect hands
to grading; each time is judged to the whole second, as ``policy.by_deadline`` judges it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from .calendar import iso_local, iso_utc, readable_local, span_text, utcnow
from .collect import counting_receipts
from .gradebook.models import (
    Excuse,
    Extension,
    GradingRun,
    LateDayRequest,
    Presentation,
    Receipt,
    RegradeRequest,
    ScoreOverride,
)
from .gradebook.records import gather_facts, receipts_where
from .policy import by_deadline, effective_deadline, judge, late_days_text, student_deadline
from .workspace import Workspace

__all__ = ["SHA_PREFIX", "Event", "History", "history_json", "student_history"]

SHA_PREFIX = 12  # hex digits of a receipt's sha256 shown: enough to tell two apart


@dataclass(frozen=True)
class Event:
    """One thing that happened to a student's work, at ``at`` (UTC)."""

    at: dt.datetime
    assignment_id: str
    kind: str  # receipt, extension, extension revoked, excuse, ..., grading, presentation
    detail: str  # in words, times local to the course
    counts: bool | None = None  # a receipt: whether it is the one that counts
    fields: dict = field(default_factory=dict)  # the same, for JSON


@dataclass(frozen=True)
class History:
    course_id: str
    student_id: str
    name: str
    timezone: str
    events: list[Event]


def _local(moment: dt.datetime, ws: Workspace) -> str:
    """'Sun 2026-11-01 18:00 +0100', with seconds when it has any (the zone heads the history)."""
    return readable_local(moment, ws.course.zone).rsplit(" (", 1)[0]


def _verdict(receipt: Receipt, counting: Receipt, due: dt.datetime, deadline: dt.datetime,
             ws: Workspace, until: dt.datetime | None = None) -> str:
    """Why a receipt counts, or why another one does (``until``: the deadline late days asked
    for move it to)."""
    received = receipt.received_at
    if receipt.id == counting.id:
        if by_deadline(received, due):
            return "counts: on time"
        if by_deadline(received, deadline):
            return f"counts: in time by the extension until {_local(deadline, ws)}"
        late = span_text(received.replace(microsecond=0) - deadline)
        if until is not None and by_deadline(received, until):
            return f"counts: late by {late}, within the late days asked for until " \
                f"{_local(until, ws)}"
        return f"counts: late by {late}, nothing was received in time"
    last = until or deadline  # the late days asked for move the deadline that picks
    if (received, receipt.id) < (counting.received_at, counting.id):
        later = "a later one in time" if by_deadline(counting.received_at, last) \
            else "the latest one"
        return f"does not count: {later} counts"
    late = span_text(received.replace(microsecond=0) - last)
    return f"does not count: after the counting one, {late} past the deadline"


def _late_work(result) -> tuple[str, dict]:
    """What the policy did to late work that counts: the late days spent on it and the
    penalty, in words and as fields."""
    if result is None or not (result.late_days or result.penalty):
        return "", {}
    words = [f"{late_days_text(result.late_days)} spent"] if result.late_days else []
    if result.penalty:
        words.append(f"penalty: {result.penalty}" + (
            f" (graded {result.score_before_penalty:g}, counts {result.score:g})"
            if result.score_before_penalty is not None else ""))
    return "; " + "; ".join(words), {"late_days": result.late_days, "penalty": result.penalty,
                                     "penalty_percent": result.penalty_percent}


def _receipts(ws: Workspace, gb, student_id: str, assignment_ids: list[str], facts,
              results: dict | None = None) -> list[Event]:
    results = results or {}
    events = []
    for assignment_id in assignment_ids:
        receipts = receipts_where(gb, student_id=student_id, assignment_id=assignment_id)
        if not receipts:
            continue
        counting = counting_receipts(ws, gb, assignment_id)[student_id]
        due = ws.course.due(assignment_id)
        deadline = effective_deadline(due, facts.extensions.get((student_id, assignment_id)))
        until = student_deadline(ws.course, facts, student_id, assignment_id)
        until = until if until != deadline else None  # None: no late days asked for
        for receipt in receipts:
            verdict = _verdict(receipt, counting, due, deadline, ws, until)
            late_work, late_fields = _late_work(results.get(assignment_id)) \
                if receipt.id == counting.id else ("", {})
            verdict += late_work
            sha = receipt.sha256[:SHA_PREFIX]
            events.append(Event(
                receipt.received_at, assignment_id, "receipt",
                f"received {sha} ({receipt.size_bytes} bytes); {verdict}",
                receipt.id == counting.id,
                {"receipt_id": receipt.id, "sha256": receipt.sha256,
                 "received_local": iso_local(receipt.received_at, ws.course.zone),
                 "deadline_utc": iso_utc(deadline), "verdict": verdict, **late_fields}))
    return events


def _rows(gb, model, student_id: str, assignment_ids: list[str]) -> list:
    query = (select(model).where(model.student_id == student_id,
                                 model.assignment_id.in_(assignment_ids))
             .order_by(model.id))
    return list(gb.session.scalars(query))


def _grants(ws: Workspace, gb, student_id: str, assignment_ids: list[str]) -> list[Event]:
    events = []
    for row in _rows(gb, Extension, student_id, assignment_ids):
        until = _local(row.until, ws)
        common = {"until_utc": iso_utc(row.until), "reason": row.reason}
        events.append(Event(row.granted_at, row.assignment_id, "extension",
                            f"extension until {until} granted by {row.granted_by}: {row.reason}",
                            fields={**common, "by": row.granted_by}))
        if row.revoked_at is not None:
            events.append(Event(row.revoked_at, row.assignment_id, "extension revoked",
                                f"extension until {until} revoked by {row.revoked_by}: "
                                f"{row.revoke_reason}",
                                fields={**common, "by": row.revoked_by,
                                        "revoke_reason": row.revoke_reason}))
    for row in _rows(gb, Excuse, student_id, assignment_ids):
        events.append(Event(row.granted_at, row.assignment_id, "excuse",
                            f"excused by {row.granted_by}: {row.reason}",
                            fields={"reason": row.reason, "by": row.granted_by}))
        if row.revoked_at is not None:
            events.append(Event(row.revoked_at, row.assignment_id, "excuse revoked",
                                f"excuse ({row.reason}) revoked by {row.revoked_by}: "
                                f"{row.revoke_reason}",
                                fields={"reason": row.reason, "by": row.revoked_by,
                                        "revoke_reason": row.revoke_reason}))
    for row in _rows(gb, ScoreOverride, student_id, assignment_ids):
        out_of = f"/{row.max_score:g}" if row.max_score is not None else ""
        score = {"score": row.score, "max_score": row.max_score, "reason": row.reason}
        events.append(Event(row.set_at, row.assignment_id, "override",
                            f"score set to {row.score:g}{out_of} by {row.set_by}: {row.reason}",
                            fields={**score, "by": row.set_by}))
        if row.cleared_at is not None:
            events.append(Event(row.cleared_at, row.assignment_id, "override cleared",
                                f"score {row.score:g}{out_of} cleared by {row.cleared_by}: "
                                f"{row.clear_reason}",
                                fields={**score, "by": row.cleared_by,
                                        "clear_reason": row.clear_reason}))
    return events


def _regrades(gb, student_id: str, assignment_ids: list[str]) -> list[Event]:
    """Regrade requests as filed, and their answers (an accept's score is its override's)."""
    events = []
    for row in _rows(gb, RegradeRequest, student_id, assignment_ids):
        common = {"request_id": row.id, "item": row.item, "reason": row.reason}
        events.append(Event(row.filed_at, row.assignment_id, "regrade request",
                            f"regrade of {row.item} asked for by {row.filed_by}: {row.reason}",
                            fields={**common, "by": row.filed_by}))
        if row.answered_at is not None:
            events.append(Event(row.answered_at, row.assignment_id, f"regrade {row.state}",
                                f"regrade of {row.item} {row.state} by {row.answered_by}: "
                                f"{row.answer}",
                                fields={**common, "by": row.answered_by, "answer": row.answer,
                                        "override_id": row.override_id}))
    return events


def _late_day_requests(ws: Workspace, gb, student_id: str, assignment_ids: list[str]
                       ) -> list[Event]:
    events = []
    for row in _rows(gb, LateDayRequest, student_id, assignment_ids):
        days = late_days_text(row.days)
        events.append(Event(row.requested_at, row.assignment_id, "late days",
                            f"{days} asked for by {row.requested_by}",
                            fields={"days": row.days, "by": row.requested_by}))
        if row.withdrawn_at is not None:
            events.append(Event(row.withdrawn_at, row.assignment_id, "late days withdrawn",
                                f"{days} withdrawn by {row.withdrawn_by}: {row.withdraw_reason}",
                                fields={"days": row.days, "by": row.withdrawn_by,
                                        "reason": row.withdraw_reason}))
    return events


def _gradings(gb, student_id: str, assignment_ids: list[str]) -> list[Event]:
    receipts = {receipt.id: receipt for receipt in receipts_where(gb, student_id=student_id)}
    events = []
    for run in _rows(gb, GradingRun, student_id, assignment_ids):
        receipt = receipts.get(run.receipt_id)
        of = f" {receipt.sha256[:SHA_PREFIX]}" if receipt is not None else ""
        if run.outcome == "success":
            out_of = f"/{run.max_score:g}" if run.max_score is not None else ""
            text = f"graded{of}: {run.score:g}{out_of}" if run.score is not None \
                else f"graded{of}"
        elif run.outcome == "running":
            text = f"grading{of} started, not finished"
        else:
            text = f"grading{of} {run.outcome}: {run.message}"
        events.append(Event(run.finished_at or run.started_at, run.assignment_id, "grading",
                            f"{text} ({run.engine}, graders {run.grader_version})",
                            fields={"outcome": run.outcome, "score": run.score,
                                    "max_score": run.max_score, "message": run.message,
                                    "receipt_id": run.receipt_id, "engine": run.engine,
                                    "grader_version": run.grader_version}))
    return events


def _presentations(gb, student_id: str, assignment_ids: list[str]) -> list[Event]:
    events = []
    for row in _rows(gb, Presentation, student_id, assignment_ids):
        drawn = "drawn to present" if row.draw_round == 0 else \
            f"drawn to present (replacement, round {row.draw_round})"
        common = {"seed": row.seed, "round": row.draw_round, "absent": row.absent}
        events.append(Event(row.drawn_at, row.assignment_id, "presentation",
                            f"{drawn} by {row.drawn_by}, seed {row.seed}"
                            + ("; marked absent" if row.absent else ""),
                            fields={**common, "by": row.drawn_by}))
        if row.withdrawn_at is not None:
            events.append(Event(row.withdrawn_at, row.assignment_id, "presentation withdrawn",
                                f"draw withdrawn by {row.withdrawn_by}: {row.withdraw_reason}",
                                fields={**common, "by": row.withdrawn_by,
                                        "reason": row.withdraw_reason}))
    return events


def student_history(ws: Workspace, student_id: str, *,
                    assignment_ids: list[str] | None = None,
                    as_of: dt.datetime | None = None) -> History:
    """Everything on record about one rostered student (of ``assignment_ids``' assignments, or
    all), oldest first; the receipt that counts names the late days spent on it and its late
    penalty, as the policy judges at ``as_of`` (default: now). An id not in the roster is
    refused (``UnknownId``), as is an unknown assignment."""
    course = ws.course
    person = course.student(student_id)
    wanted = [course.assignment(a).id for a in dict.fromkeys(assignment_ids)] \
        if assignment_ids else [a.id for a in course.assignments]
    with ws.gradebook() as gb:
        facts = gather_facts(gb, course)
        (standing,) = [s for s in judge(course, facts, as_of or utcnow())
                       if s.student_id == student_id]
        events = [*_receipts(ws, gb, student_id, wanted, facts, standing.results),
                  *_grants(ws, gb, student_id, wanted),
                  *_late_day_requests(ws, gb, student_id, wanted),
                  *_gradings(gb, student_id, wanted),
                  *_regrades(gb, student_id, wanted),
                  *_presentations(gb, student_id, wanted)]
    order = {a: n for n, a in enumerate(wanted)}
    events.sort(key=lambda event: (event.at, order[event.assignment_id]))  # stable: by kind
    return History(course.id, student_id, person.name, course.timezone, events)


def history_json(history: History, ws: Workspace) -> dict:
    """The history as a JSON document: ``{"course", "student", "name", "timezone", "events":
    [{"at_utc", "at_local", "assignment", "kind", "detail", "counts", ...}]}``."""
    zone = ws.course.zone
    return {
        "course": history.course_id,
        "student": history.student_id,
        "name": history.name,
        "timezone": history.timezone,
        "events": [{"at_utc": iso_utc(event.at), "at_local": iso_local(event.at, zone),
                    "assignment": event.assignment_id, "kind": event.kind,
                    "detail": event.detail, "counts": event.counts, **event.fields}
                   for event in history.events],
    }

"""The excused-miss policy: a pure function from what happened to each student's standing.

It reads no database and no clock: callers gather the facts (receipts, extensions, excuses,
scores) and the instant to judge at, so the rules can be tested exhaustively and re-run for any
date ("who was at risk last Monday?").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .coursefile import Course

__all__ = ["STATES", "STATUSES", "AssignmentResult", "Facts", "Standing", "judge", "pick_receipt"]

STATES = ("on_time", "extended", "late", "missing", "excused", "pending")
STATUSES = ("ok", "at_risk", "exclude")

Pair = tuple[str, str]  # (student_id, assignment_id)


@dataclass
class Facts:
    """Everything the policy needs, keyed by (student_id, assignment_id)."""

    receipts: dict[Pair, list[dt.datetime]] = field(default_factory=dict)
    extensions: dict[Pair, dt.datetime] = field(default_factory=dict)
    excuses: dict[Pair, str] = field(default_factory=dict)
    scores: dict[Pair, tuple[float, float]] = field(default_factory=dict)
    grading_errors: dict[Pair, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignmentResult:
    assignment_id: str
    state: str
    due: dt.datetime
    effective_due: dt.datetime
    received: dt.datetime | None
    score: float | None
    max_score: float | None
    counts_as_miss: bool
    note: str = ""


@dataclass(frozen=True)
class Standing:
    student_id: str
    results: dict[str, AssignmentResult]
    misses: int
    excused: int
    status: str
    status_text: str


def pick_receipt(received: list[dt.datetime], deadline: dt.datetime) -> dt.datetime | None:
    """The submission that counts: the latest one in time if any, else the latest one at all."""
    on_time = [moment for moment in received if moment <= deadline]
    if on_time:
        return max(on_time)
    return max(received) if received else None


def _result(course: Course, facts: Facts, pair: Pair, as_of: dt.datetime) -> AssignmentResult:
    _student_id, assignment_id = pair
    due = course.due(assignment_id)
    effective_due = max(due, facts.extensions.get(pair, due))
    received = pick_receipt(facts.receipts.get(pair, []), effective_due)
    score, max_score = facts.scores.get(pair, (None, None))
    policy = course.policy
    notes = []

    if pair in facts.excuses:
        state, miss = "excused", False
        notes.append(f"excused: {facts.excuses[pair]}")
    elif received is not None and received <= due:
        state, miss = "on_time", False
    elif received is not None and received <= effective_due:
        state, miss = "extended", False
    elif received is not None:
        state, miss = "late", policy.late == "missed"
        if miss:
            notes.append("late submissions count as missed")
    elif as_of < effective_due:
        state, miss = "pending", False
    else:
        state, miss = "missing", True

    if pair in facts.grading_errors and received is not None:
        notes.append(f"grading failed: {facts.grading_errors[pair]}")
    elif (
        state in ("on_time", "extended", "late")
        and not miss
        and policy.pass_threshold > 0
        and score is not None
        and max_score
        and score / max_score < policy.pass_threshold
    ):
        miss = True
        notes.append(
            f"score {score:g}/{max_score:g} is below the pass threshold "
            f"of {policy.pass_threshold:.0%}"
        )
    return AssignmentResult(
        assignment_id, state, due, effective_due, received, score, max_score, miss, "; ".join(notes)
    )


def _status(course: Course, misses: int, as_of: dt.datetime) -> tuple[str, str]:
    allowance = course.policy.excused_misses
    if misses > allowance:
        deadline = course.withdrawal_deadline
        if as_of.astimezone(course.zone).date() <= deadline:
            return "exclude", f"must be excluded by {deadline.isoformat()}"
        return "exclude", f"exclude (withdrawal deadline {deadline.isoformat()} has passed)"
    if misses and misses == allowance:
        return "at_risk", "one more miss means exclusion"
    return "ok", ""


def judge(course: Course, facts: Facts, as_of: dt.datetime) -> list[Standing]:
    """Each rostered student's standing at instant ``as_of``, in roster order."""
    standings = []
    for student in course.roster.students:
        results = {
            assignment.id: _result(course, facts, (student.id, assignment.id), as_of)
            for assignment in course.assignments
        }
        misses = sum(result.counts_as_miss for result in results.values())
        excused = sum(result.state == "excused" for result in results.values())
        status, text = _status(course, misses, as_of)
        standings.append(Standing(student.id, results, misses, excused, status, text))
    return standings

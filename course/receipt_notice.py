"""What a hand-in means under the course's policy, in one line for its student: in time or how
late, within an extension or late days, excused, and which of their submissions counts. The
exchange's reply and ``course submit`` print it (``receipt_notice``)."""

from __future__ import annotations

import datetime as dt

from .calendar import local_seconds, readable_local, span_text
from .gradebook import Gradebook, Receipt
from .gradebook.records import PairDeadline, pair_deadline, receipt_times
from .late_rules import LateDecision, late_rule
from .policy import (
    DAY,
    AssignmentResult,
    by_deadline,
    judge_student,
    late_days_text,
    pick_receipt,
)
from .workspace import Workspace

__all__ = ["receipt_notice"]


def receipt_notice(ws: Workspace, gb: Gradebook, receipt: Receipt,
                   pair: PairDeadline | None = None,
                   earlier: tuple[dt.datetime, ...] | None = None) -> str:
    """What a hand-in means under the course's policy, in one line for the student: in time or
    how late (judged to the whole second, ``policy.by_deadline``), and which of their
    submissions counts (``policy.pick_receipt``: the latest in time, else the latest).
    ``pair``: the student's deadlines for it, when the caller read them already; ``earlier``:
    when their submissions before it arrived (``course.inbox.StagedHandIn.earlier``), else all the others
    are read."""
    course, zone = ws.course, ws.course.zone
    student_id, assignment_id = receipt.student_id, receipt.assignment_id
    pair = pair or pair_deadline(gb, course, student_id, assignment_id)
    due, deadline, until = pair.due, pair.extended, pair.deadline  # until: picks what counts
    others = list(earlier) if earlier is not None else [
        at for number, at in receipt_times(gb, student_id, assignment_id).items()
        if number != receipt.id]
    counts = pick_receipt([*others, receipt.received_at], until)  # ties: the newest, this one
    this_counts = counts == receipt.received_at
    if by_deadline(receipt.received_at, due):
        text = f"on time (deadline {readable_local(due, zone)}): this submission counts"
        if others:
            text += " (the latest one in time counts)"
    elif by_deadline(receipt.received_at, deadline):
        text = (f"{span_text(receipt.received_at.replace(microsecond=0) - due)} after the "
                f"deadline, within your extension until {readable_local(deadline, zone)}: "
                "this submission counts")
    else:
        which = "extended deadline" if deadline > due else "deadline"
        late_by = span_text(receipt.received_at.replace(microsecond=0) - deadline)
        text = f"late: {late_by} after the {which} {readable_local(deadline, zone)}; "
        rule = late_rule(course.policy.late)
        decision = rule.decide(receipt.received_at.replace(microsecond=0) - deadline)
        judged = _judged_with_late_days(ws, gb, receipt)
        if judged is not None:  # late days asked for move the deadline that picks it
            counts = judged[0].received
            this_counts = counts == receipt.received_at
        if judged is not None and this_counts:  # the policy's answer, late days spent
            result, left = judged
            decision = LateDecision(result.counts_as_miss, result.penalty_percent,
                                    result.penalty or "")
            # asked for: they move the deadline (``until``); spent automatically: whole 24 h
            # days, as ``policy.late_days_needed`` counts them
            covered = until if course.policy.late_days_on_request \
                else result.effective_due + result.late_days * DAY
            if result.late_days and by_deadline(receipt.received_at, covered):
                return text + _covered(course, result, left, until) + _excused(receipt, pair)
        missed = decision.miss
        text += rule.notice_for(decision)
        if judged is not None:
            text += _days_left(course, *judged)
        if not this_counts:
            text += f"; your on-time submission of {local_seconds(counts, zone)} still counts"
        elif missed:
            text += ", and no submission of yours is in time"
        else:
            text += ": this submission counts, marked late"
    return text + _excused(receipt, pair)


def _excused(receipt: Receipt, pair: PairDeadline) -> str:
    if pair.excuse_reason is None:
        return ""
    return f"; {receipt.assignment_id} is excused for you ({pair.excuse_reason}): never a miss"


def _judged_with_late_days(ws: Workspace, gb: Gradebook, receipt: Receipt
                           ) -> tuple[AssignmentResult, int] | None:
    """The policy's result for the receipt's pair judged at its arrival, and the student's
    late days left then (that student alone is judged); None in a course without late days."""
    course = ws.course
    if not course.policy.late_day_budget:
        return None
    from .gradebook.records import gather_facts

    standing = judge_student(course, gather_facts(gb, course), receipt.student_id,
                             receipt.received_at)
    return standing.results[receipt.assignment_id], standing.late_days_left or 0


def _covered(course, result: AssignmentResult, left: int, until: dt.datetime) -> str:
    budget = course.policy.late_day_budget
    if course.policy.late_days_on_request:
        return (f"within the {late_days_text(result.late_days)} you asked for (until "
                f"{readable_local(until, course.zone)}; {left} of {budget} left): this "
                "submission counts, not penalised")
    return (f"{late_days_text(result.late_days)} of yours spent on it ({left} of {budget} left): this "
            "submission counts, not penalised")


def _days_left(course, result: AssignmentResult, left: int) -> str:
    budget = course.policy.late_day_budget
    if course.policy.late_days_on_request:
        asked = f"; the {late_days_text(result.late_days)} you asked for do not reach it" \
            if result.late_days else ""
        return (f" ({left} of {budget} late days left{asked}: ask for more on your dashboard "
                "page, and they move your deadline a whole day each)" if left else
                f" (no late days left of {budget}{asked})")
    spent = f"; {late_days_text(result.late_days)} spent on it" if result.late_days else ""
    return f" ({left} of {budget} late days left{spent}, too few to cover it whole)"

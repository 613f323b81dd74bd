"""The excused-miss policy: a pure function from what happened to each student's standing.

It reads no database and no clock: callers gather the facts (receipts, extensions, excuses,
scores) and the instant to judge at, so the rules can be tested exhaustively and re-run for any
date ("who was at risk last Monday?").

It also decides the points each assignment counts (``AssignmentResult.points`` out of
``max_points``) and their sums (``Standing.points``, ``Standing.max_points``): every report and
LMS export takes them from here, so none of them adds up differently.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .calendar import span_text
from .coursefile import Course
from .late_rules import LateDecision, LateRule, late_rule

__all__ = [
    "STATES", "STATUSES", "AssignmentResult", "Facts", "Graded", "GradingError", "Override",
    "Standing",
    "by_deadline", "days_to_spend", "effective_deadline", "honoured_requests", "judge",
    "judge_student", "late_day_deadline", "late_days_needed", "late_days_text",
    "pick_receipt", "release_warning", "release_warnings", "student_deadline",
    "student_late_days", "unreleased_past_deadline", "withdrawal_ends",
]

STATES = ("on_time", "extended", "late", "by_hand", "missing", "excused", "pending",
          "not_released")
STATUSES = ("ok", "at_risk", "exclude")

Pair = tuple[str, str]  # (student_id, assignment_id)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Graded:
    """A score and the receipt it was earned by: a score only counts for that submission."""

    score: float
    max_score: float
    received_at: dt.datetime


@dataclass(frozen=True)
class GradingError:
    """Why the submission received at ``received_at`` has no score.

    ``unreadable``: the student's file is not a notebook of the assignment (damaged, renamed,
    empty); it is judged as a score of 0. ``failed``: the platform could not grade it (a crash,
    a missing grader); never held against the student, the instructor must grade it again.
    """

    message: str
    received_at: dt.datetime | None
    unreadable: bool = False


@dataclass(frozen=True)
class Override:
    """A score an instructor set by hand (``course override``): it replaces the graded score of
    the pair, whatever submission counts, and is judged against the pass threshold.
    ``max_score`` None: the graded max_score."""

    score: float
    reason: str
    by: str
    at: dt.datetime
    max_score: float | None = None


@dataclass
class Facts:
    """Everything the policy needs, keyed by (student_id, assignment_id).

    ``releases`` holds when each assignment became visible to students; an assignment absent
    from it was never released and is nobody's miss. ``max_points``: the points each
    assignment is out of, where known (a missed assignment counts 0 out of them).
    """

    receipts: dict[Pair, list[dt.datetime]] = field(default_factory=dict)
    extensions: dict[Pair, dt.datetime] = field(default_factory=dict)
    excuses: dict[Pair, str] = field(default_factory=dict)
    scores: dict[Pair, Graded] = field(default_factory=dict)
    grading_errors: dict[Pair, GradingError] = field(default_factory=dict)
    releases: dict[str, dt.datetime] = field(default_factory=dict)
    overrides: dict[Pair, Override] = field(default_factory=dict)
    max_points: dict[str, float] = field(default_factory=dict)
    # late days asked for on a pair (policy.late_days spent on_request), requests in force only
    late_day_requests: dict[Pair, int] = field(default_factory=dict)


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
    grading_error: str | None = None  # the counting submission could not be graded: why
    override: str | None = None  # the score was set by hand: "set by ina on 2026-11-20: why"
    points: float | None = None  # what it counts in the totals; None: it counts in neither
    max_points: float | None = None  # out of how many
    earned_nothing: bool = False  # handed in and not a miss, yet 0 points: blank work?
    penalty: str | None = None  # late within the window: why the score is less (late by 5 h: -10 %)
    penalty_percent: float = 0.0  # of the points earned, taken off (score is after it)
    score_before_penalty: float | None = None  # the graded score, where a penalty took some off
    late_days: int = 0  # late days this hand-in spent (policy.late_days)


@dataclass(frozen=True)
class Standing:
    student_id: str
    results: dict[str, AssignmentResult]
    misses: int
    excused: int
    status: str
    status_text: str
    points: float = 0.0  # the sum of the results' points
    max_points: float = 0.0  # the sum of their max_points: every assignment that counts
    late_days_used: int = 0  # late days spent (policy.late_days), by deadline order
    late_days_left: int | None = None  # None: the course gives no late days


def by_deadline(received: dt.datetime, deadline: dt.datetime) -> bool:
    """Whether a receipt is in time, judged to the whole second, as every receipt is shown: for
    an 18:00 deadline 18:00:00.999 is in time (the deadline itself is), 18:00:01 is not."""
    return received.replace(microsecond=0) <= deadline


def pick_receipt(received: list[dt.datetime], deadline: dt.datetime) -> dt.datetime | None:
    """The submission that counts: the latest one in time if any, else the latest one at all."""
    on_time = [moment for moment in received if by_deadline(moment, deadline)]
    if on_time:
        return max(on_time)
    return max(received) if received else None


def effective_deadline(due: dt.datetime, extension: dt.datetime | None) -> dt.datetime:
    """The deadline a student works to: ``due``, or the end of their extension in force when it
    is later (an extension never shortens the deadline). Every reader of a deadline takes it
    from here: the policy, the receipt's notice, which submission counts, the deadline sweep."""
    return due if extension is None else max(due, extension)


def withdrawal_ends(course: Course) -> dt.datetime:
    """The instant (UTC) the withdrawal day ends in the course's zone: exclusions must be done
    before it, and the policy says "must be excluded by <date>" while that day lasts. A next
    midnight that a DST change skips or repeats counts once the next day has begun for good."""
    day, zone = course.withdrawal_deadline, course.zone
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    readings = [midnight.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC) for fold in (0, 1)]
    return max((r for r in readings if r.astimezone(zone).date() > day), default=readings[0])


def _released(releases: dict[str, dt.datetime], assignment_id: str, as_of: dt.datetime) -> bool:
    released = releases.get(assignment_id)
    return released is not None and released <= as_of


def late_days_needed(late_by: dt.timedelta) -> int:
    """The late days a hand-in ``late_by`` after its deadline spends: whole days, rounded up."""
    return math.ceil(late_by / DAY)


def late_day_deadline(effective_due: dt.datetime, days: int, zone: ZoneInfo) -> dt.datetime:
    """The deadline late days asked for move a student's effective deadline to: ``days`` whole
    days later on the course's clock (``zone``), so 18:00 stays 18:00 over a daylight-saving
    change. A local time that change repeats reads as its later instant, one it skips as the
    instant after the gap. Which submission counts is picked by it (``student_deadline``)."""
    if not days:
        return effective_due
    local = effective_due.astimezone(zone).replace(tzinfo=None) + days * DAY
    return max(local.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC) for fold in (0, 1))


def late_days_text(count: int) -> str:
    """'1 late day', '2 late days': the one wording of a number of late days."""
    return f"{count} late day{'s' if count != 1 else ''}"


def _honoured_of(course: Course, requests: dict[Pair, int], student_id: str) -> dict[str, int]:
    """One student's late days asked for that count, by assignment (``honoured_requests``)."""
    if not course.policy.late_days_on_request:
        return {}
    left, honoured = course.policy.late_day_budget, {}
    for assignment in sorted(course.assignments, key=lambda a: a.due):  # stable: file order
        days = min(requests.get((student_id, assignment.id), 0), left)
        left -= days
        if days:
            honoured[assignment.id] = days
    return honoured


def honoured_requests(course: Course, requests: dict[Pair, int]) -> dict[Pair, int]:
    """The late days asked for that count (``spend: on_request``): each student's requests in
    deadline order as far as the course file's budget reaches (a budget lowered after the
    requests leaves the later ones short); none where the course spends them automatically."""
    return {(student_id, assignment_id): days
            for student_id in sorted({sid for sid, _ in requests})
            for assignment_id, days in _honoured_of(course, requests, student_id).items()}


def student_late_days(course: Course, facts: Facts, student_id: str, assignment_id: str) -> int:
    """The late days asked for that count on one pair (0: none, or spent automatically)."""
    return _honoured_of(course, facts.late_day_requests, student_id).get(assignment_id, 0)


def student_deadline(course: Course, facts: Facts, student_id: str,
                     assignment_id: str) -> dt.datetime:
    """A student's deadline with late days: their effective deadline (``effective_deadline``)
    moved by the late days asked for that count (``late_day_deadline``). Which submission
    counts, the sweep, the history, when feedback opens: every reader takes it from here."""
    effective = effective_deadline(course.due(assignment_id),
                                   facts.extensions.get((student_id, assignment_id)))
    return late_day_deadline(effective, student_late_days(course, facts, student_id,
                                                          assignment_id), course.zone)


def _rank(decision: LateDecision) -> tuple[bool, float]:
    return decision.miss, decision.penalty_percent  # lower is better for the student


def days_to_spend(rule: LateRule, late_by: dt.timedelta, left: int) -> int:
    """A partial budget (automatic spending): the days left do not cover ``late_by`` whole.
    They are spent to shrink the lateness the rule judges only where that helps: the fewest of
    them that give the rule's best decision, when it is better than without (a miss turned
    into counted work, a smaller penalty); else none, and they are kept for later work."""
    best_days, best = 0, _rank(rule.decide(late_by))
    for days in range(1, min(left, late_days_needed(late_by) - 1) + 1):
        rank = _rank(rule.decide(late_by - days * DAY))
        if rank < best:
            best_days, best = days, rank
    return best_days


def _result(course: Course, facts: Facts, pair: Pair, due: dt.datetime,
            as_of: dt.datetime, late_days_left: int = 0) -> AssignmentResult:
    _student_id, assignment_id = pair
    policy = course.policy
    budget, on_request = policy.late_day_budget, policy.late_days_on_request
    effective_due = effective_deadline(due, facts.extensions.get(pair))
    # days asked for are spent as asked, as far as the budget (the course file's) reaches
    asked = student_late_days(course, facts, *pair)
    until = student_deadline(course, facts, *pair)
    received = pick_receipt([r for r in facts.receipts.get(pair, []) if r <= as_of], until)
    notes = []
    decision = None
    late_days = asked
    if asked:
        notes.append(f"{late_days_text(asked)} asked for: deadline "
                     f"{until.astimezone(course.zone):%Y-%m-%d %H:%M} "
                     f"({late_days_left - asked} of {budget} left)")

    if pair in facts.excuses:
        state, miss = "excused", False
        notes.append(f"excused: {facts.excuses[pair]}")
    elif received is not None and by_deadline(received, due):
        state, miss = "on_time", False
    elif received is not None and by_deadline(received, effective_due):
        state, miss = "extended", False
    elif received is not None and on_request and by_deadline(received, until):
        state, miss = "late", False  # within the late days asked for: counted as if in time
        late_by = received.replace(microsecond=0) - effective_due
        notes.append(f"late by {span_text(late_by)}: covered by the late days asked for")
    elif received is not None:
        late_by = received.replace(microsecond=0) - effective_due  # as by_deadline judges
        needed = late_days_needed(late_by)
        rule = late_rule(policy.late)
        if not on_request and needed <= late_days_left:  # covered whole: as if in time
            state, miss, late_days = "late", False, needed
            notes.append(f"late by {span_text(late_by)}: {late_days_text(needed)} spent "
                         f"({late_days_left - needed} of {budget} left)")
        else:
            if not on_request:  # a partial budget: spent where it helps (days_to_spend)
                late_days = days_to_spend(rule, late_by, late_days_left)
            # days asked for move the deadline on the course's clock (23 h or 25 h over a
            # daylight-saving change): the rule judges the time after it
            judged = received.replace(microsecond=0) - until if on_request \
                else late_by - late_days * DAY
            decision = rule.decide(judged)
            state, miss = "late", decision.miss
            if miss:
                notes.append(decision.reason or "late submissions count as missed")
            if on_request and asked:
                notes.append(f"late by {span_text(late_by)}: the {late_days_text(asked)} "
                             f"asked for cover {span_text(until - effective_due)}, the late "
                             f"rule judges the {span_text(judged)} after")
            elif late_days:
                notes.append(f"late by {span_text(late_by)}: {late_days_text(needed)} needed, "
                             f"{late_days_left} left; {late_days_text(late_days)} spent "
                             f"({late_days_left - late_days} of {budget} left), the late rule "
                             f"judges the remaining {span_text(judged)}")
            elif budget and not on_request:
                notes.append(f"{late_days_text(needed)} needed, {late_days_left} left: the "
                             "late rule applies")
    elif pair in facts.overrides:  # nothing received: the work came another way (paper, email)
        state, miss = "by_hand", False
        notes.append("nothing received on the platform")
    elif not _released(facts.releases, assignment_id, as_of):
        state, miss = "not_released", False
        if as_of >= effective_due:
            notes.append("the deadline passed but the assignment was never released")
    elif as_of < until:
        state, miss = "pending", False
    else:
        state, miss = "missing", True

    # a score belongs to one submission: shown only for the one that counts
    graded = facts.scores.get(pair)
    score = max_score = None
    override = facts.overrides.get(pair)
    if graded is not None and received is not None and graded.received_at == received:
        score, max_score = graded.score, graded.max_score
    elif graded is not None and received is not None and override is None:
        notes.append("the submission that counts is not graded yet (the score on record "
                     "belongs to another submission)")
    override_text = None
    if override is not None:
        graded_text = f" (graded {score:g}/{max_score:g})" if score is not None else ""
        score = override.score
        max_score = next((m for m in (override.max_score, max_score,
                                      graded.max_score if graded is not None else None,
                                      facts.max_points.get(assignment_id))
                          if m is not None), None)
        day = override.at.astimezone(course.zone).date().isoformat()
        override_text = f"set by {override.by} on {day}: {override.reason}"
        notes.append(f"score set by hand{graded_text}: {override_text}")
    penalty, penalty_percent, before_penalty = None, 0.0, None
    if (decision is not None and not decision.miss and override is None
            and (decision.penalty_percent or decision.reason)):
        penalty, penalty_percent = decision.reason or None, decision.penalty_percent
        if score is not None and penalty_percent:
            before_penalty = score
            score = score * (1 - penalty_percent / 100)
        if penalty:
            notes.append(penalty if score is None or before_penalty is None else
                         f"{penalty} (graded {before_penalty:g}, counts {score:g})")
    error = facts.grading_errors.get(pair)
    if error is not None and (received is None or error.received_at not in (None, received)):
        error = None  # an error of another submission says nothing about this one
    if error is not None:
        notes.append(f"grading failed: {error.message}")
    handed_in = state in ("on_time", "extended", "late", "by_hand") and not miss
    below = policy.pass_threshold > 0 and (
        (error is not None and error.unreadable and override is None)
        or (score is not None and max_score and score / max_score < policy.pass_threshold))
    if handed_in and below:
        miss = True
        if score is not None:
            notes.append(f"score {score:g}/{max_score:g} is below the pass threshold "
                         f"of {policy.pass_threshold:.0%}")
        else:
            notes.append("an unreadable notebook scores 0, below the pass threshold")
    points, max_points = _points(state, score, max_score, error,
                                 facts.max_points.get(assignment_id))
    earned_nothing = handed_in and not miss and points == 0
    if earned_nothing:
        notes.append("earned 0 points, yet counts as handed in: with pass_threshold 0 even "
                     "blank work does (no cells, the release unchanged, never finishing)")
    return AssignmentResult(
        assignment_id, state, due, effective_due, received, score, max_score, miss,
        "; ".join(notes), error.message if error is not None else None, override_text,
        points, max_points, earned_nothing, penalty, penalty_percent, before_penalty, late_days,
    )


def _points(state: str, score: float | None, max_score: float | None,
            error: GradingError | None, assignment_max: float | None
            ) -> tuple[float | None, float | None]:
    """The points an assignment counts in the totals, out of how many.

    Excused, pending and unreleased ones count in neither. A score (graded or set by hand)
    counts as it is; a missed assignment and an unreadable notebook count 0 out of the
    assignment's points. Work not graded yet, or whose grading failed on the platform's side,
    counts in neither until it is graded.
    """
    if state in ("excused", "pending", "not_released"):
        return None, None
    out_of = max_score if max_score is not None else assignment_max
    if score is not None:
        return score, out_of
    if state == "missing" or (error is not None and error.unreadable):
        return 0.0, assignment_max
    return None, None


def unreleased_past_deadline(course: Course, releases: dict[str, dt.datetime],
                             as_of: dt.datetime) -> list[str]:
    """Ids of the assignments whose deadline has passed at ``as_of`` without a release."""
    return [a.id for a in course.assignments
            if course.due(a.id) <= as_of and not _released(releases, a.id, as_of)]


def release_warning(course: Course, assignment_id: str) -> str:
    due = course.due(assignment_id).astimezone(course.zone)
    return (f"{assignment_id}: the deadline passed on {due:%Y-%m-%d %H:%M} but it was never "
            f"released (run `course release {assignment_id}`); nobody's miss until then")


def release_warnings(course: Course, releases: dict[str, dt.datetime],
                     as_of: dt.datetime) -> list[str]:
    return [release_warning(course, aid)
            for aid in unreleased_past_deadline(course, releases, as_of)]


def _status(course: Course, misses: int, as_of: dt.datetime) -> tuple[str, str]:
    allowance = course.policy.excused_misses
    if misses > allowance:
        deadline = course.withdrawal_deadline
        if as_of < withdrawal_ends(course):
            return "exclude", f"must be excluded by {deadline.isoformat()}"
        return "exclude", f"exclude (withdrawal deadline {deadline.isoformat()} has passed)"
    if misses and misses == allowance:
        return "at_risk", "one more miss means exclusion"
    return "ok", ""


def judge_student(course: Course, facts: Facts, student_id: str,
                  as_of: dt.datetime) -> Standing:
    """One student's standing at instant ``as_of`` (``judge`` asks it for each student; a
    hand-in's notice asks it for its student alone)."""
    budget = course.policy.late_day_budget
    spent: dict[str, AssignmentResult] = {}
    left = budget
    for assignment in sorted(course.assignments, key=lambda a: a.due):  # late days: in order
        result = _result(course, facts, (student_id, assignment.id), course.due(assignment.id),
                         as_of, left)
        left -= result.late_days
        spent[assignment.id] = result
    results = {assignment.id: spent[assignment.id] for assignment in course.assignments}
    misses = sum(result.counts_as_miss for result in results.values())
    excused = sum(result.state == "excused" for result in results.values())
    status, text = _status(course, misses, as_of)
    points = sum(r.points for r in results.values() if r.points is not None)
    max_points = sum(r.max_points for r in results.values()
                     if r.points is not None and r.max_points is not None)
    return Standing(student_id, results, misses, excused, status, text, float(points),
                    float(max_points), budget - left, left if budget else None)


def judge(course: Course, facts: Facts, as_of: dt.datetime) -> list[Standing]:
    """Each rostered student's standing at instant ``as_of``, in roster order."""
    return [judge_student(course, facts, student.id, as_of)
            for student in course.roster.students]

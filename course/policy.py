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

from .calendar import span_text
from .coursefile import Course
from .late_rules import late_rule

__all__ = [
    "STATES", "STATUSES", "AssignmentResult", "Facts", "Graded", "GradingError", "Override",
    "Standing",
    "by_deadline", "effective_deadline", "judge", "late_days_needed", "pick_receipt",
    "release_warning",
    "release_warnings", "unreleased_past_deadline", "withdrawal_ends",
]

STATES = ("on_time", "extended", "late", "by_hand", "missing", "excused", "pending",
          "not_released")
STATUSES = ("ok", "at_risk", "exclude")

Pair = tuple[str, str]  # (student_id, assignment_id)


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
    return math.ceil(late_by / dt.timedelta(days=1))


def _result(course: Course, facts: Facts, pair: Pair, due: dt.datetime,
            as_of: dt.datetime, late_days_left: int = 0) -> AssignmentResult:
    _student_id, assignment_id = pair
    effective_due = effective_deadline(due, facts.extensions.get(pair))
    received = pick_receipt([r for r in facts.receipts.get(pair, []) if r <= as_of], effective_due)
    policy = course.policy
    notes = []
    decision = None
    late_days = 0

    if pair in facts.excuses:
        state, miss = "excused", False
        notes.append(f"excused: {facts.excuses[pair]}")
    elif received is not None and by_deadline(received, due):
        state, miss = "on_time", False
    elif received is not None and by_deadline(received, effective_due):
        state, miss = "extended", False
    elif received is not None:
        late_by = received.replace(microsecond=0) - effective_due  # as by_deadline judges
        needed = late_days_needed(late_by)
        if needed <= late_days_left:  # late days cover it whole: counted as if in time
            state, miss, late_days = "late", False, needed
            notes.append(f"late by {span_text(late_by)}: {needed} late day"
                         f"{'s' if needed != 1 else ''} spent "
                         f"({late_days_left - needed} of {policy.late_days} left)")
        else:
            decision = late_rule(policy.late).decide(late_by)
            state, miss = "late", decision.miss
            if miss:
                notes.append(decision.reason or "late submissions count as missed")
            if policy.late_days:
                notes.append(f"{needed} late day{'s' if needed != 1 else ''} needed, "
                             f"{late_days_left} left: the late rule applies")
    elif pair in facts.overrides:  # nothing received: the work came another way (paper, email)
        state, miss = "by_hand", False
        notes.append("nothing received on the platform")
    elif not _released(facts.releases, assignment_id, as_of):
        state, miss = "not_released", False
        if as_of >= effective_due:
            notes.append("the deadline passed but the assignment was never released")
    elif as_of < effective_due:
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


def judge(course: Course, facts: Facts, as_of: dt.datetime) -> list[Standing]:
    """Each rostered student's standing at instant ``as_of``, in roster order."""
    # each deadline looked up once, not once per student (6,000 cells in a big course)
    dues = {assignment.id: course.due(assignment.id) for assignment in course.assignments}
    by_due = sorted(dues, key=lambda assignment_id: dues[assignment_id])  # late days: in order
    budget = course.policy.late_days
    standings = []
    for student in course.roster.students:
        spent: dict[str, AssignmentResult] = {}
        left = budget
        for assignment_id in by_due:
            result = _result(course, facts, (student.id, assignment_id), dues[assignment_id],
                             as_of, left)
            left -= result.late_days
            spent[assignment_id] = result
        results = {assignment_id: spent[assignment_id] for assignment_id in dues}
        misses = sum(result.counts_as_miss for result in results.values())
        excused = sum(result.state == "excused" for result in results.values())
        status, text = _status(course, misses, as_of)
        points = sum(r.points for r in results.values() if r.points is not None)
        max_points = sum(r.max_points for r in results.values()
                         if r.points is not None and r.max_points is not None)
        standings.append(Standing(student.id, results, misses, excused, status, text,
                                  float(points), float(max_points), budget - left,
                                  left if budget else None))
    return standings

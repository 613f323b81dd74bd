"""Drawing students to present their solution in class.

``pick_presenters`` is a pure function: who is eligible, how often each has presented, who
presented last time, a seed. The rest reads and records draws in the gradebook. A draw is
fair (those who presented least come first, nobody twice in a row unless there is no one else)
and reproducible (the seed is recorded; the same seed and history give the same pick).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from .calendar import readable_local, utcnow
from .coursefile import Course
from .errors import UserError
from .gradebook import Gradebook, Presentation
from .gradebook.records import current_user, gather_facts
from .policy import AssignmentResult, judge

__all__ = [
    "DrawResult",
    "draw",
    "draw_notice",
    "drawn_for",
    "eligible_students",
    "full_name",
    "named",
    "pick_presenters",
    "presentation_history",
    "presentation_session",
    "replace_absentees",
    "withdraw_draw",
]

PRESENTABLE_STATES = ("on_time", "extended")


def pick_presenters(eligible: Collection[str], presented: Mapping[str, int],
                    previous: Collection[str], count: int, seed: str) -> list[str]:
    """Up to ``count`` of ``eligible``: not in ``previous`` (the last draw) unless unavoidable,
    then fewest presentations first; ties are broken by a shuffle seeded with ``seed``."""
    rng = random.Random(seed)  # a str seed is hashed with SHA-512: stable across processes
    order = sorted(set(eligible))
    rng.shuffle(order)
    order.sort(key=lambda student: (student in previous, presented.get(student, 0)))  # stable
    return order[:count]


def presentation_session(course: Course, assignment_id: str) -> int | None:
    """The session where an assignment is presented: ``for_session``, else the first session
    starting after its deadline."""
    assignment = course.assignment(assignment_id)
    if assignment.for_session is not None:
        return assignment.for_session
    due = course.due(assignment_id)
    for number, session in enumerate(course.sessions, start=1):
        if session.starts_at(course.zone) > due:
            return number
    return None


def eligible_students(course: Course, gb: Gradebook, assignment_id: str,
                      as_of: dt.datetime) -> list[str]:
    """Students who handed the assignment in on time (or within their extension) and did not
    declare themselves unavailable for the session where it is presented. Work that earned
    nothing (graded 0 points, an unreadable notebook) or counts as missed (below the pass
    threshold) has nothing to present; work not graded yet can be drawn."""
    session = presentation_session(course, assignment_id)
    standings = judge(course, gather_facts(gb, course), as_of)
    return [
        standing.student_id for standing in standings
        if _presentable(standing.results[assignment_id])
        and session not in course.unavailable_sessions(standing.student_id)
    ]


def _presentable(result: AssignmentResult) -> bool:
    return (result.state in PRESENTABLE_STATES and not result.counts_as_miss
            and result.points != 0)


def _rows(gb: Gradebook) -> list[Presentation]:
    """Every draw on record that was not withdrawn: withdrawn ones count nowhere."""
    query = (select(Presentation).where(Presentation.withdrawn_at.is_(None))
             .order_by(Presentation.id))
    return list(gb.session.scalars(query))


def _history(course: Course, rows: Sequence[Presentation],
             assignment_id: str) -> tuple[Counter, set[str]]:
    """Presentations per student in other assignments' draws, and who presented in the draw
    just before this assignment's (in course order)."""
    counts: Counter = Counter()
    by_assignment: dict[str, set[str]] = {}
    for row in rows:
        if row.assignment_id != assignment_id and not row.absent:
            counts[row.student_id] += 1
            by_assignment.setdefault(row.assignment_id, set()).add(row.student_id)
    order = [a.id for a in course.assignments]
    earlier = order[:order.index(assignment_id)]
    previous = next((by_assignment[a] for a in reversed(earlier) if a in by_assignment), set())
    return counts, previous


@dataclass(frozen=True)
class DrawResult:
    assignment_id: str
    seed: str
    picked: list[str]
    eligible: int
    absent: list[str]


def draw(course: Course, gb: Gradebook, assignment_id: str, *, count: int | None = None,
         seed: str | None = None, as_of: dt.datetime | None = None,
         by: str | None = None) -> DrawResult:
    """Draw presenters for an assignment and record them (committed), as drawn ``by`` (default:
    ``records.current_user()``)."""
    course.assignment(assignment_id)
    rows = _rows(gb)
    if any(row.assignment_id == assignment_id for row in rows):
        raise UserError(f"presenters for {assignment_id} are already drawn; replace an absentee "
                        f"with 'course draw {assignment_id} --absent STUDENT'")
    count = count or course.presenters.count
    # a random seed by default: a seed derivable from public facts would make the draw guessable
    seed = seed or secrets.token_hex(4)
    eligible = eligible_students(course, gb, assignment_id, as_of or utcnow())
    if not eligible:
        raise UserError(f"nobody handed in {assignment_id} on time: there is nobody to draw")
    counts, previous = _history(course, rows, assignment_id)
    picked = pick_presenters(eligible, counts, previous, count, seed)
    _record(gb, assignment_id, picked, 0, seed, as_of or utcnow(), by)
    return DrawResult(assignment_id, seed, picked, len(eligible), [])


def replace_absentees(course: Course, gb: Gradebook, assignment_id: str, absentees: Sequence[str],
                      *, as_of: dt.datetime | None = None, by: str | None = None) -> DrawResult:
    """Mark drawn students absent and draw as many replacements, reproducibly from the first
    draw's seed. Returns the replacements (possibly fewer when nobody is left)."""
    course.assignment(assignment_id)
    absentees = list(dict.fromkeys(absentees))
    rows = _rows(gb)
    mine = [row for row in rows if row.assignment_id == assignment_id]
    if not mine:
        raise UserError(f"no presenters drawn for {assignment_id} yet: "
                        f"run 'course draw {assignment_id}' first")
    present = {row.student_id: row for row in mine if not row.absent}
    for student in absentees:
        course.student(student)
        if student not in present:
            raise UserError(f"{student} is not among the presenters drawn for {assignment_id} "
                            f"(drawn: {', '.join(present) or 'nobody'})")
    for student in absentees:
        present[student].absent = True
    draw_round = max(row.draw_round for row in mine) + 1
    seed = f"{mine[0].seed}/{draw_round}"
    already = {row.student_id for row in mine}
    eligible = [s for s in eligible_students(course, gb, assignment_id, as_of or utcnow())
                if s not in already]
    counts, previous = _history(course, rows, assignment_id)
    picked = pick_presenters(eligible, counts, previous, len(absentees), seed)
    _record(gb, assignment_id, picked, draw_round, seed, as_of or utcnow(), by)
    return DrawResult(assignment_id, seed, picked, len(eligible), list(absentees))


def _record(gb: Gradebook, assignment_id: str, picked: list[str], draw_round: int,
            seed: str, now: dt.datetime, by: str | None) -> None:
    by = by or current_user()
    for student in picked:
        gb.session.add(Presentation(assignment_id=assignment_id, student_id=student,
                                    draw_round=draw_round, seed=seed, drawn_at=now, drawn_by=by,
                                    absent=False))
    gb.commit()


def withdraw_draw(course: Course, gb: Gradebook, assignment_id: str, reason: str, *,
                  now: dt.datetime, by: str | None = None) -> list[Presentation]:
    """Withdraw the recorded draw of an assignment, replacements included (committed), so it
    can be drawn again. The rows stay on record, marked withdrawn. Returns them."""
    course.assignment(assignment_id)
    rows = drawn_for(gb, assignment_id)
    if not rows:
        raise UserError(f"no presenters drawn for {assignment_id}: there is no draw to undo")
    by = by or current_user()
    for row in rows:
        row.withdrawn_at, row.withdrawn_by, row.withdraw_reason = now, by, reason
    gb.commit()
    return rows


def drawn_for(gb: Gradebook, assignment_id: str) -> list[Presentation]:
    """Everyone drawn for one assignment, absentees included, in the order drawn (a withdrawn
    draw left out)."""
    return [row for row in _rows(gb) if row.assignment_id == assignment_id]


def presentation_history(gb: Gradebook) -> dict[str, list[dict]]:
    """Per student, every time they were drawn: assignment, when, and whether absent
    (``gradebook.reading.presentation_history``, in the gradebook's session)."""
    from .gradebook import reading
    from .gradebook.records import session_rows

    return reading.presentation_history(session_rows(gb))


def full_name(course: Course, student_id: str) -> str:
    """The roster's first and last name of a student; "" when it has none for the id (or the
    student has left the roster)."""
    person = next((p for p in course.roster.students if p.id == student_id), None)
    return f"{person.first_name} {person.last_name}".strip() if person is not None else ""


def named(course: Course, student_id: str) -> str:
    """A student as a draw is announced: the id with the full name beside it,
    'ada (Ada Lovelace)'; the id alone without a name."""
    name = full_name(course, student_id)
    return f"{student_id} ({name})" if name else student_id


def draw_notice(course: Course, assignment_id: str, now: dt.datetime) -> list[str]:
    """A warning (one line starting "warning:") when presenters are drawn at ``now``, before
    the assignment's deadline: only students who have already handed in can be drawn."""
    due = course.due(assignment_id)
    if now >= due:
        return []
    return [(f"warning: drawing before the deadline of {assignment_id} "
             f"({readable_local(due, course.zone)}): only students who have already handed in "
             f"can be drawn")]

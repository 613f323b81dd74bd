"""The summary rota as announced: who writes which session's summary stays put once shown.

The draft rotation is a pure function of the roster, the number of sessions and who is
unavailable when: nobody gets a second turn before everyone available had one, and sessions whose
summary has been handed in keep the authors who wrote it. A summary is due on the first
``summaries.deadline`` weekday and time after its session, in the course's zone.

Until it is first shown (``course summaries``, ``course wiki export``), the rota is a draft that
follows the roster (``rotation``). Showing it announces it: every session's authors are
recorded in the gradebook (``course_summary_rota``). From then on a session keeps its authors.
When an author leaves the roster or declares the session ``unavailable:``, only that slot is
vacated and refilled, by the free student with the fewest turns, then the one whose nearest turn
is furthest from the session, then roster order; the refill is recorded and a notice names the
session, who left and who writes instead. Sessions added to the course file later are planned by
the rotation around the announced ones. A summary handed in keeps the authors who wrote it, and
handing one in by other authors moves nobody else. ``pin`` and ``swap`` change slots by hand.
Every change is a new row with who, when and why; the latest row per session counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from . import calendar
from .coursefile import Course
from .errors import UserError
from .gradebook import Gradebook, SessionSummary
from .gradebook.models import SummaryRota
from .gradebook.records import current_user

__all__ = ["Rota", "Vacancy", "course_rotation", "current_rota", "history", "latest_summaries",
           "notice", "pin", "record_rota", "rotation", "settle", "summary_deadline", "swap"]


def rotation(students: Sequence[str], sessions: int, per_session: int,
             unavailable: Mapping[str, Collection[int]],
             pinned: Mapping[int, Sequence[str]] | None = None) -> dict[int, list[str]]:
    """Authors for sessions 1..``sessions``: the available students with the fewest turns, then
    the one whose last turn is longest ago, then roster order. ``pinned`` sessions keep the
    authors given (a summary already handed in) and count as their turns."""
    pinned = pinned or {}
    turns = dict.fromkeys(students, 0)
    last_turn = dict.fromkeys(students, 0)
    plan = {}
    for number in range(1, sessions + 1):
        if number in pinned:
            authors = list(pinned[number])
        else:
            free = [s for s in students if number not in unavailable.get(s, ())]
            authors = sorted(free, key=lambda s: (turns[s], last_turn[s]))[:per_session]
        for student in authors:
            if student in turns:
                turns[student] += 1
                last_turn[student] = number
        plan[number] = authors
    return plan


def summary_deadline(course: Course, number: int) -> dt.datetime:
    rule = course.summaries.deadline
    session = course.sessions[number - 1]
    return calendar.weekday_after(session.date, rule.weekday, rule.time, course.zone)


def latest_summaries(gb: Gradebook, *,
                     until: dt.datetime | None = None) -> dict[int, SessionSummary]:
    """The summary that counts per session: the latest received (by ``until``, if given)."""
    query = select(SessionSummary).order_by(SessionSummary.received_at, SessionSummary.id)
    if until is not None:
        query = query.where(SessionSummary.received_at <= until)
    return {row.session: row for row in gb.session.scalars(query)}


def course_rotation(course: Course,
                    handed_in: Mapping[int, SessionSummary]) -> dict[int, list[str]]:
    students = [person.id for person in course.roster.students]
    unavailable = {student: course.unavailable_sessions(student) for student in students}
    pinned = {number: row.authors.split() for number, row in handed_in.items()
              if number <= len(course.sessions)}
    return rotation(students, len(course.sessions), course.summaries.per_session, unavailable,
                    pinned)


@dataclass(frozen=True)
class Vacancy:
    """An announced author who can no longer write a session's summary, and who writes it
    instead (None: nobody is free)."""

    session: int
    student: str
    why: str  # left (no longer a student) | unavailable (declared in the course file)
    replacement: str | None


@dataclass(frozen=True)
class Rota:
    plan: dict[int, list[str]]  # session -> authors; a handed-in session: the hand-in's
    vacancies: list[Vacancy]  # refilled in ``plan``, recorded by ``record_rota``
    announced: frozenset[int]  # sessions with a recorded row
    handed_in: frozenset[int]


def settle(students: Sequence[str], sessions: int, per_session: int,
           unavailable: Mapping[str, Collection[int]], recorded: Mapping[int, Sequence[str]],
           handed_in: Mapping[int, Sequence[str]]) -> tuple[dict[int, list[str]], list[Vacancy]]:
    """The rota for sessions 1..``sessions``: handed-in sessions keep the hand-in's authors,
    ``recorded`` sessions keep theirs but for the slots vacated (refilled in session order), the
    others come from the rotation around them. A pure function, like ``rotation``."""
    roster = {student: index for index, student in enumerate(students)}
    slots: dict[int, list[str | None]] = {}
    vacated = []
    for number in range(1, sessions + 1):
        if number in handed_in:
            slots[number] = list(handed_in[number])
        elif number in recorded:
            row: list[str | None] = []
            for author in recorded[number]:
                why = ("left" if author not in roster else
                       "unavailable" if number in unavailable.get(author, ()) else "")
                if why:
                    vacated.append((number, len(row), author, why))
                row.append(None if why else author)
            slots[number] = row
    fixed = {number: [a for a in row if a is not None] for number, row in slots.items()}
    fresh = rotation(students, sessions, per_session, unavailable, pinned=fixed)
    for number in range(1, sessions + 1):
        slots.setdefault(number, list(fresh[number]))

    def preference(student: str, number: int) -> tuple[int, int, int]:
        turns = [n for n, row in slots.items() if student in row]
        gap = min((abs(n - number) for n in turns), default=sessions + 1)
        return len(turns), -gap, roster[student]

    vacancies = []
    for number, position, student, why in vacated:
        row = slots[number]
        free = [s for s in students if s not in row and number not in unavailable.get(s, ())]
        pick = min(free, key=lambda s: preference(s, number), default=None)
        row[position] = pick
        vacancies.append(Vacancy(number, student, why, pick))
    plan = {number: [a for a in row if a is not None] for number, row in sorted(slots.items())}
    return plan, vacancies


def _recorded(gb: Gradebook) -> dict[int, list[str]]:
    rows = gb.session.scalars(select(SummaryRota).order_by(SummaryRota.id))
    return {row.session: row.authors.split() for row in rows}


def current_rota(course: Course, gb: Gradebook) -> Rota:
    """The rota as it stands, vacated slots refilled; reads only (the dashboard, the exchange):
    the refills are the same until ``record_rota`` records them."""
    sessions = len(course.sessions)
    recorded = _recorded(gb)
    handed_in = {number: row.authors.split() for number, row in latest_summaries(gb).items()
                 if number <= sessions}
    students = [person.id for person in course.roster.students]
    unavailable = {student: course.unavailable_sessions(student) for student in students}
    plan, vacancies = settle(students, sessions, course.summaries.per_session, unavailable,
                             {n: a for n, a in recorded.items() if n <= sessions}, handed_in)
    return Rota(plan, vacancies, frozenset(recorded), frozenset(handed_in))


def _add(gb: Gradebook, number: int, authors: Sequence[str], action: str, reason: str, *,
         now: dt.datetime, by: str) -> None:
    gb.session.add(SummaryRota(session=number, authors=" ".join(authors), action=action,
                               changed_at=now, changed_by=by, reason=reason))


def _gone(vacancy: Vacancy) -> str:
    return (f"{vacancy.student} is no longer a student of the course" if vacancy.why == "left"
            else f"{vacancy.student} is unavailable (course file)")


def _describe(vacancy: Vacancy) -> str:
    return f"{_gone(vacancy)}; {vacancy.replacement or 'nobody'} instead"


def record_rota(course: Course, gb: Gradebook, *, now: dt.datetime, by: str | None = None,
                announce: bool = True) -> Rota:
    """Record the rota as it stands (flushed, not committed): the refills of vacated slots and,
    with ``announce``, every session not recorded yet. Without ``announce`` (after a roster
    change) a rota never shown stays a draft. Returns the rota; its ``vacancies`` are the slots
    refilled now, for the notices."""
    rota = current_rota(course, gb)
    if not rota.announced and not announce:
        return Rota(rota.plan, [], rota.announced, rota.handed_in)
    by = by or current_user()
    for number, authors in rota.plan.items():
        refilled = [v for v in rota.vacancies if v.session == number]
        if refilled:
            _add(gb, number, authors, "refill", "; ".join(map(_describe, refilled)), now=now,
                 by=by)
        elif announce and number not in rota.announced:
            _add(gb, number, authors, "announce", "", now=now, by=by)
    gb.session.flush()
    return rota


def notice(course: Course, vacancy: Vacancy) -> str:
    """One line for the instructor: which session, who left the slot, who writes instead."""
    date = course.sessions[vacancy.session - 1].date
    where = f"session {vacancy.session} ({date:%a %Y-%m-%d})"
    gone = _gone(vacancy)
    if vacancy.replacement is None:
        return (f"{where}: {gone}; nobody else is free to write its summary "
                f"(set its authors with: course summaries pin {vacancy.session} STUDENT...)")
    due = summary_deadline(course, vacancy.session).astimezone(course.zone)
    return (f"{where}: {gone}; {vacancy.replacement} writes the summary instead, "
            f"due {due:%a %Y-%m-%d %H:%M}")


def _changeable(rota: Rota, number: int) -> None:
    if number in rota.handed_in:
        raise UserError(f"the summary of session {number} was handed in (by "
                        f"{', '.join(rota.plan[number])}): its authors are the hand-in's")


def _available(course: Course, student: str, number: int) -> None:
    if number in course.unavailable_sessions(student):
        raise UserError(f"{student} is unavailable for session {number} (course file)")


def pin(course: Course, gb: Gradebook, session: int | dt.date, authors: Sequence[str], *,
        reason: str, now: dt.datetime, by: str | None = None) -> tuple[Rota, int, list[str]]:
    """Set one session's authors by hand (flushed, not committed); the rota is recorded first,
    so nothing else moves. Returns the rota before the pin, the session and its new authors."""
    number = course.session_number(session)
    authors = list(dict.fromkeys(authors))
    if not authors:
        raise UserError("name at least one author")
    for author in authors:
        course.student(author)
    rota = record_rota(course, gb, now=now, by=by)
    _changeable(rota, number)
    for author in authors:
        _available(course, author, number)
    _add(gb, number, authors, "pin", reason, now=now, by=by or current_user())
    gb.session.flush()
    return rota, number, authors


def swap(course: Course, gb: Gradebook, first: tuple[int | dt.date, str],
         second: tuple[int | dt.date, str], *, reason: str, now: dt.datetime,
         by: str | None = None) -> tuple[Rota, dict[int, list[str]]]:
    """Two students trade their slots in two sessions (flushed, not committed); nothing else
    moves. Returns the rota before the swap and the two sessions' new authors."""
    (one, a), (other, b) = [(course.session_number(ref), student) for ref, student in
                            (first, second)]
    course.student(a)
    course.student(b)
    if one == other:
        raise UserError("a swap trades slots of two different sessions; to change the authors "
                        f"of one session: course summaries pin {one} STUDENT...")
    rota = record_rota(course, gb, now=now, by=by)
    for number, student in ((one, a), (other, b)):
        _changeable(rota, number)
        authors = rota.plan[number]
        if student not in authors:
            raise UserError(f"{student} does not write the summary of session {number} "
                            f"(authors: {', '.join(authors) or 'none'})")
    for number, partner in ((one, b), (other, a)):
        if partner in rota.plan[number]:
            raise UserError(f"{partner} already writes the summary of session {number}")
        _available(course, partner, number)
    changed = {one: [b if x == a else x for x in rota.plan[one]],
               other: [a if x == b else x for x in rota.plan[other]]}
    for number, authors in changed.items():
        _add(gb, number, authors, "swap", reason, now=now, by=by or current_user())
    gb.session.flush()
    return rota, changed


def history(gb: Gradebook) -> list[SummaryRota]:
    """Every recorded change of the rota, oldest first."""
    return list(gb.session.scalars(select(SummaryRota).order_by(SummaryRota.id)))

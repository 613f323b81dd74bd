"""The syllabus page, generated from the course file: sessions and topics (a break, a week
without a session, as a row of its own), assignments with release and due times in the course's
zone, and links to the released notebooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..coursefile import Break, Course
from ..markdown import escape
from .pages import SYLLABUS, Page, local_time, session_slug

__all__ = ["syllabus_page"]


def syllabus_page(course: Course, notebooks: Mapping[str, Sequence[Path]]) -> Page:
    """``notebooks`` maps each released assignment to its student notebooks."""
    sessions = ["| # | Date | Start | Topic |", "|---|---|---|---|"]
    breaks = list(course.breaks)  # in date order (checked): each shown where it falls
    for number, session in enumerate(course.sessions, start=1):
        while breaks and breaks[0].last_day < session.date:
            sessions.append(_break_row(breaks.pop(0)))
        start = f"{session.start:%H:%M}" if session.start else ""
        topic = escape(session.topic or f"Session {number}")
        sessions.append(f"| {number} | {session.date:%a %Y-%m-%d} | {start} | "
                        f"[{topic}](wiki:{session_slug(number)}) |")
    sessions += [_break_row(pause) for pause in breaks]
    assignments = ["| Assignment | Title | Released | Due | Notebooks |", "|---|---|---|---|---|"]
    files = {}
    for assignment in course.assignments:
        released = local_time(assignment.release, course) if assignment.release else ""
        links = []
        for path in notebooks.get(assignment.id, []):
            name = f"{assignment.id}/{path.name}"
            files[name] = path
            links.append(f"[{escape(path.name)}](media:{name})")
        assignments.append(
            f"| {escape(assignment.id)} | {escape(assignment.title)} | {escape(released)} | "
            f"{escape(local_time(course.due(assignment.id), course))} | "
            f"{', '.join(links) or 'not released yet'} |"
        )
    rule = course.summaries.deadline
    markdown = "\n".join([
        (f"All times are local to {escape(course.timezone)}. Withdrawal deadline: "
         f"{course.withdrawal_deadline:%a %Y-%m-%d}."),
        "",
        "## Sessions",
        "",
        *sessions,
        "",
        (f"Each session, {course.summaries.per_session} students write its summary for this "
         f"wiki, due {rule.weekday.capitalize()} {rule.time:%H:%M} after the session."),
        "",
        "## Assignments",
        "",
        *assignments,
        "",
    ])
    return Page(SYLLABUS, "Syllabus", markdown, files=files)


def _break_row(pause: Break) -> str:
    """A week without a session: its days in the date column, "no session: NAME" as the topic."""
    return (f"|  | {pause.first_day:%a %Y-%m-%d} to {pause.last_day:%a %Y-%m-%d} |  | "
            f"*{escape(pause.label)}* |")

"""What the command line shares: reading the course and "now" from the arguments, and printing
(a console wide enough for tables when piped, the grading progress bar). ``course.cli`` and
``course.life_cli`` parse; the stage modules do the work; this module is the seam between them."""

from __future__ import annotations

import datetime as dt
import sys

from rich.console import Console
from rich.markup import escape

from . import calendar
from .errors import UserError

__all__ = ["err", "grade_with_progress", "judged_at", "local_time", "wide_console", "workspace"]

err = Console(stderr=True)


def wide_console() -> Console:
    # wide enough for the status table when piped, so rows are not folded
    return Console(width=None if sys.stdout.isatty() else 160)


def workspace(args):
    from .workspace import open_workspace

    return open_workspace(args.course)


def local_time(text: str, zone) -> dt.datetime:
    """A local time typed by a user, in the course's zone, as a UTC instant."""
    try:
        return calendar.parse_local(text, zone)
    except calendar.LocalTimeError as exc:
        raise UserError(str(exc)) from None


def judged_at(args, course) -> dt.datetime:
    """``--as-of`` in the course's zone, else the clock, read once per command."""
    text = getattr(args, "as_of", None)
    return local_time(text, course.zone) if text else calendar.utcnow()


def grade_with_progress(ws, assignment_id: str, students=None, console: Console | None = None,
                        workers: int | None = None):
    """``course.grade.grade`` with a progress bar, then its warnings, once each."""
    from rich.progress import (  # only grading shows progress: not for every command
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .grade import collected_students, grade

    todo = students if students is not None else collected_students(ws, assignment_id)
    columns = [TextColumn("grading {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=console or err, transient=False) as progress:
        task = progress.add_task(assignment_id, total=len(todo))
        outcomes = grade(ws, assignment_id, students=todo, workers=workers,
                         on_result=lambda _outcome: progress.advance(task))
    warnings = sorted({w for outcome in outcomes for w in outcome.warnings})
    for warning in warnings:
        (console or err).print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    return outcomes

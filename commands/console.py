"""What the command line shares: reading the course and "now" from the arguments, and printing
(a console wide enough for tables when piped, the grading progress bar). ``commands.main`` and
``commands.life`` parse; the stage modules do the work; this module is the seam between them."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
import time
from typing import Self

from rich.console import Console
from rich.markup import escape

from course import calendar
from course.errors import UserError

__all__ = ["DISCOVERY", "PlainProgress", "acting_user", "counted_progress", "err",
           "grade_with_progress",
           "judged_at", "report_roster_change", "wide_console", "workspace"]

err = Console(stderr=True)
# where a command finds the course file without --course (course.locate.find_course_file)
DISCOVERY = "$COURSE_FILE, else course.yml here or in the nearest parent folder"
PLAIN_PROGRESS_EVERY_S = 10.0  # a progress line at least this often without a terminal


def wide_console() -> Console:
    # wide enough for the status table when piped, so rows are not folded
    return Console(width=None if sys.stdout.isatty() else 160)


def workspace(args):
    from course.workspace import open_workspace

    return open_workspace(args.course)


def acting_user() -> str:
    """Who runs the command, as the records name them (``$COURSE_USER``, else the login)."""
    from course.gradebook.records import current_user

    return current_user()


def judged_at(args, course) -> dt.datetime:
    """``--as-of`` in the course's zone, else the clock, read once per command."""
    text = getattr(args, "as_of", None)
    return calendar.typed_local_time(text, course.zone) if text else calendar.utcnow()


def grade_with_progress(ws, assignment_id: str, students=None, console: Console | None = None,
                        workers: int | None = None):
    """``course.grade.grade`` with a progress bar (plain lines without a terminal), then its
    warnings, once each."""
    from rich.progress import (  # only grading shows progress: not for every command
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from course.grade import collected_students, grade
    from course.inbox import check_handed_out

    check_handed_out(ws, assignment_id, calendar.utcnow())  # "not released", not "graded 0 of 0"
    todo = students if students is not None else collected_students(ws, assignment_id)
    console = console or err
    if not console.is_terminal:  # a log or a pipe: a bar would show only once all is done
        with PlainProgress(assignment_id, len(todo), console) as plain:
            outcomes = grade(ws, assignment_id, students=todo, workers=workers,
                             on_result=plain.advance)
    else:
        columns = [TextColumn("grading {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn()]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(assignment_id, total=len(todo))
            outcomes = grade(ws, assignment_id, students=todo, workers=workers,
                             on_result=lambda _outcome: progress.advance(task))
    warnings = sorted({w for outcome in outcomes for w in outcome.warnings})
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    return outcomes


@contextlib.contextmanager
def counted_progress(what: str, verb: str, console: Console | None = None):
    """A ``progress(done, total)`` callback for work that learns its total when it starts: a
    bar on a terminal, plain lines (``PlainProgress``) elsewhere."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or err
    if not console.is_terminal:
        with contextlib.ExitStack() as stack:
            plain: list[PlainProgress] = []

            def advance(done: int, total: int) -> None:
                if not plain:
                    plain.append(stack.enter_context(
                        PlainProgress(what, total, console, verb=verb)))
                while plain[0].done < done:
                    plain[0].advance()

            yield advance
        return
    columns = [TextColumn(f"{verb} {{task.description}}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


class PlainProgress:
    """Grading progress as plain lines, for a console that is not a terminal (a log, a pipe,
    cron): ``grading 01-numpy: 3/40 done, 1 not graded, 25 s``, each time another tenth of the
    submissions is done, when the last is, and every ``every`` seconds while none finishes (one
    submission can take minutes). ``advance`` takes each outcome (``course.grade.grade``'s
    ``on_result``); used as a context manager, which runs the timer."""

    def __init__(self, what: str, total: int, console: Console, *,
                 every: float = PLAIN_PROGRESS_EVERY_S, verb: str = "grading"):
        self.what, self.total, self.console, self.every = what, total, console, every
        self.verb = verb
        self.step = max(1, -(-total // 10))
        self.done = self.not_graded = 0
        self.started = self.last = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Self:
        self._line()
        self._timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._timer.join()

    def advance(self, outcome=None) -> None:
        """One more done; ``outcome``, if given, says whether it was graded."""
        with self._lock:
            self.done += 1
            self.not_graded += outcome is not None and outcome.outcome != "success"
            due = self.done % self.step == 0 or self.done == self.total
        if due:
            self._line()

    def _tick(self) -> None:
        while not self._stop.wait(self.every / 4):
            if time.monotonic() - self.last >= self.every:
                self._line()

    def _line(self) -> None:
        with self._lock:
            self.last = now = time.monotonic()
            text = f"{self.verb} {self.what}: {self.done}/{self.total} done"
            if self.not_graded:
                text += f", {self.not_graded} not graded"
            text += f", {now - self.started:.0f} s"
            self.console.print(escape(text), highlight=False, soft_wrap=True)


def report_roster_change(change, *, dry_run: bool) -> int:
    """What ``course roster import`` and ``pull-lti`` say: the counts written, or with
    ``dry_run`` each change and the conflicts (a UserError: exit status 2)."""
    if not dry_run:
        print(f"roster: {change.added} added, {change.updated} updated, "
              f"{change.unchanged} unchanged")
        return 0
    for line in change.details:
        print(line)
    conflicts = len(change.conflicts)
    print(f"dry run: {change.added} to add, {change.updated} to update, {change.unchanged} "
          f"unchanged, {conflicts} conflict{'s' if conflicts != 1 else ''}; nothing written")
    if change.conflicts:
        raise UserError("\n".join(change.conflicts))
    return 0

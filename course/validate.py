"""``course validate``: every error in the course file, and what else is amiss in the course folder.

Each check takes the workspace and the checked course file and yields Problems. To add one, write a
function and list it in CHECKS; a problem of severity WARNING is printed but does not fail the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .coursefile import CourseFileCheck, check_course_file
from .workspace import Workspace

__all__ = ["CHECKS", "ERROR", "WARNING", "Problem", "validate_course"]

ERROR: Literal["error"] = "error"
WARNING: Literal["warning"] = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Literal["error", "warning"]
    message: str  # "course.yml:12: assignments[1]: ..." when it has a place in the course file

    @classmethod
    def at(cls, severity: Literal["error", "warning"], check: CourseFileCheck, loc: tuple,
           message: str) -> Problem:
        """A problem placed at ``loc`` (e.g. ``("assignments", 0)``) of the course file."""
        return cls(severity, str(check.error_at(loc, message)))

    def __str__(self) -> str:
        return self.message


Check = Callable[[Workspace, CourseFileCheck, dt.datetime], Iterable[Problem]]


def missing_sources(ws: Workspace, check: CourseFileCheck, now: dt.datetime) -> Iterator[Problem]:
    """Every assignment needs its source folder, assignments/<id>/, to be generated or graded."""
    for index, assignment in enumerate(ws.course.assignments):
        folder = ws.source / assignment.id
        if not folder.is_dir():
            yield Problem.at(WARNING, check, ("assignments", index),
                             f"assignment {assignment.id!r} has no folder {folder}")


def unreleased_deadlines(ws: Workspace, check: CourseFileCheck,
                         now: dt.datetime) -> Iterator[Problem]:
    """A deadline that passed without a release: nobody could hand in (nobody's miss). A course
    without a gradebook yet (`course upgrade` makes it) has no releases to check."""
    from .errors import GradebookMissing
    from .gradebook.reading import open_reader, release_times
    from .policy import release_warning, unreleased_past_deadline

    try:
        with open_reader(ws.db_url, ws.course.id) as rows:  # SQLite: no SQLAlchemy to import
            releases = release_times(rows, ws.course)
    except GradebookMissing:  # refused before anything was created
        return
    ids = [a.id for a in ws.course.assignments]
    for assignment_id in unreleased_past_deadline(ws.course, releases, now):
        yield Problem.at(WARNING, check, ("assignments", ids.index(assignment_id)),
                         release_warning(ws.course, assignment_id))


def long_jobs(ws: Workspace, check: CourseFileCheck, now: dt.datetime) -> Iterator[Problem]:
    """An assignment graded on the fleet whose job could outlast RabbitMQ's consumer_timeout."""
    from .time_limits import jobs_over_broker_timeout

    for index, message in jobs_over_broker_timeout(ws.course, ws.source):
        yield Problem.at(WARNING, check, ("assignments", index), message)


CHECKS: list[Check] = [missing_sources, unreleased_deadlines, long_jobs]


def validate_course(path: Path | str | None = None, *,
                    now: dt.datetime) -> tuple[Workspace | None, list[Problem]]:
    """The workspace (None when the course file has errors) and every problem found at ``now``,
    in order."""
    check = check_course_file(path)
    problems = [Problem(ERROR, str(error)) for error in check.errors]
    if check.course is None:
        return None, problems
    ws = Workspace(check.course, Path(check.path).resolve())
    for run in CHECKS:
        problems.extend(run(ws, check, now))
    return ws, sorted(problems, key=lambda problem: problem.severity != ERROR)  # errors first

"""Graded at the deadline by itself: the sweep that finds each student whose deadline (their
extension included) has passed and whose submission that counts has no grading by the current
graders yet, then collects and grades those (on the fleet: sends their jobs).

It sits above the grading backends: it finds what is due and calls ``course.grade.grade``.
Celery beat runs it every minute on the worker started with ``course worker --beat`` (one per
fleet; without it nothing is graded by itself; the worker command hands ``sweep_course`` to the
fleet's app), one sweep per course the worker was given; a sweep names its course by id and
runs only for the sweeping worker's own courses (``sweep_course``). ``now`` is always passed in.

``course sweep`` (a cron job, a Kubernetes CronJob) runs it once for every course the fleet
serves (``sweep_every_course``): a course whose sweep fails is reported and the others are
swept all the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from .collect import counting_receipts
from .coursefile import Course
from .fleet.jobs import own_course
from .gradebook import GradingRun
from .gradebook.records import gather_facts
from .policy import student_deadline
from .release import folder_checksum
from .workspace import Workspace, open_workspace

__all__ = ["CourseSweep", "due_for_grading", "sweep", "sweep_course", "sweep_courses",
           "sweep_every_course"]


def due_for_grading(ws: Workspace, now: dt.datetime) -> dict[str, list[str]]:
    """Assignment id -> the students whose deadline has passed at ``now`` and whose submission
    that counts the current graders have not graded (nor been sent) yet."""
    due: dict[str, list[str]] = {}
    with ws.gradebook() as gb:
        facts = gather_facts(gb, ws.course)
        for assignment in ws.course.assignments:
            source = ws.source / assignment.id
            if not source.is_dir():
                continue
            version = folder_checksum(source)[:16]
            for student_id, receipt in counting_receipts(ws, gb, assignment.id).items():
                if now < student_deadline(ws.course, facts, student_id, assignment.id):
                    continue  # extensions and late days asked for move it
                graded = gb.session.scalars(select(GradingRun.id).filter_by(
                    student_id=student_id, assignment_id=assignment.id, receipt_id=receipt.id,
                    grader_version=version)).first()
                if graded is None:
                    due.setdefault(assignment.id, []).append(student_id)
    return due


def sweep(ws: Workspace, now: dt.datetime) -> dict[str, list[str]]:
    """Collect and grade what ``due_for_grading`` finds (sent without waiting on celery,
    graded here on the local backend). Returns what it started."""
    from .grade import grade  # looked up when called: tests replace it

    due = due_for_grading(ws, now)
    for assignment_id, students in due.items():  # grade() collects what is not collected yet
        grade(ws, assignment_id, students=students, wait=False)
    return due


def sweep_course(courses: Mapping[str, str], course_id: str,
                 now: dt.datetime) -> dict[str, list[str]]:
    """``sweep`` of ``course_id``, one of a worker's own ``courses`` (course id -> course file),
    opened from the file the worker was given; any other id (or a path) is ``Refused``."""
    return sweep(own_course(courses, course_id, f"deadline sweep of {course_id!r}"), now)


def sweep_courses(courses: Mapping[str, str],
                  now: dt.datetime) -> dict[str, dict[str, list[str]]]:
    """``sweep`` of each of a worker's own ``courses``, and of nothing else: course id -> what
    it started."""
    return {course_id: sweep_course(courses, course_id, now) for course_id in sorted(courses)}


@dataclass(frozen=True)
class CourseSweep:
    """One course's part of ``sweep_every_course``: what it sent, or why it failed."""

    course: str  # its id, or the file's path where the file could not be read
    started: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def sweep_every_course(course_files: Iterable[str],
                       now: Callable[[Course], dt.datetime]) -> list[CourseSweep]:
    """``sweep`` of each course file in turn, at ``now(course)``. A course whose sweep fails (its
    file unreadable, its gradebook or the broker down, a second file of one id) is reported in
    its ``CourseSweep`` and the next course is swept all the same: one broken course must not
    leave the others ungraded.

    Where courses live one folder per course id (several files, and any of them in the folder
    of its id: the stack's /srv/course/<id>), a file whose id is not its folder's name is
    refused before anything is swept: staff of dl writing ``id: ml`` in dl's file neither sweep
    dl's folder as ml nor keep ml's own file from being swept."""
    opened: list[Workspace | CourseSweep] = []
    for path in course_files:
        try:
            opened.append(open_workspace(path))
        except Exception as exc:  # noqa: BLE001 - any failure is this course's alone
            opened.append(CourseSweep(str(path), error=_described(exc)))
    workspaces = [ws for ws in opened if isinstance(ws, Workspace)]
    by_folder = len(opened) > 1 and any(ws.root.name == ws.course.id for ws in workspaces)
    results: list[CourseSweep] = []
    seen: dict[str, str] = {}
    for ws in opened:
        if isinstance(ws, CourseSweep):
            results.append(ws)
            continue
        if by_folder and ws.root.name != ws.course.id:
            results.append(CourseSweep(str(ws.course_file), error=(
                f"Refused: id {ws.course.id!r} is not its folder's name {ws.root.name!r} (one "
                "folder per course id: a file may not take another course's id)")))
            continue
        label = ws.course.id
        try:
            if label in seen and seen[label] != str(ws.course_file):
                raise ValueError(f"{ws.course_file} declares id {label!r}, as {seen[label]} does")
            seen[label] = str(ws.course_file)
            results.append(CourseSweep(label, sweep(ws, now(ws.course))))
        except Exception as exc:  # noqa: BLE001 - any failure is this course's alone
            results.append(CourseSweep(label, error=_described(exc)))
    return results


def _described(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {'; '.join(lines)}"

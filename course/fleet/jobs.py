"""A grading job and how a worker runs it.

A job is one collected submission (its receipt) graded by one version of the graders; its id is
the receipt and the grader version, and its gradebook row (``course_grading_run``) is keyed the
same way. A job delivered twice (a worker killed, a broker restarted) rewrites that one row, and a
delivery of a job the row already finished after it was sent is skipped.

A job names its course by id, never by path: each worker grades only the courses it was given
when it started (``course worker --course FILE ...``, resolved once into course id -> course
file) and refuses any other. A path in a message is data from whoever could send it; a course
file found there (a student can hand one in) would be trusted as the course's settings
(``isolation: none``) and gradebook (DESIGN.md decision 11, THREATS.md class 30).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from autograder.nbgrader_schema import install as install_schema_cache

from ..calendar import utcnow
from ..errors import UserError
from ..grade_one import autograde_one, record_result
from ..gradebook import GradingRun
from ..nbgrader_engines import shared_engines
from ..workspace import open_workspace

__all__ = ["CLOSED", "FINISHED", "Courses", "Job", "Refused", "RetryLater", "course_file_for",
           "course_id_for", "lost_database", "own_course", "resolve_courses", "run_job"]

FINISHED = ("success", "error", "unreadable")
QUEUED = "queued"
CLOSED = "course_grading_run_closed"  # PostgreSQL channel: a run was closed (course.fleet.dispatch)

log = logging.getLogger("course.fleet")


class RetryLater(Exception):
    """The gradebook could not be reached: the job goes back to the queue, it did not fail."""


class Refused(UserError):
    """A job (or a sweep) this worker will not run: its course is not one of the worker's own,
    or the gradebook it opened is another course's. Nothing is graded or written; the message
    is rejected, not retried (another delivery would get the same answer)."""


Courses = Mapping[str, str]  # a worker's own courses: course id -> its course file


@dataclass(frozen=True)
class Job:
    course_id: str  # one fleet grades every course on a hub; "": a job sent before that
    assignment_id: str
    student_id: str
    receipt_id: int | None
    grader_version: str
    run_id: int  # the gradebook row this job writes
    expected: tuple[str, ...]  # the assignment's notebooks
    sent: str  # ISO UTC time the job was sent
    queue: str = "cpu"  # the named queue it was sent to (grading.queue)

    @property
    def id(self) -> str:
        """The receipt and the graders (a repeat rewrites the same row), within its course:
        two courses' gradebooks number their receipts each from 1."""
        receipt = self.receipt_id if self.receipt_id is not None else f"{self.student_id}-none"
        course = f"{self.course_id}/" if self.course_id else ""
        return f"{course}{self.assignment_id}/r{receipt}/g{self.grader_version}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Job:
        """The job in a message. ``course_file`` (messages sent before jobs named their course
        by id alone) is dropped unread: where a course file is, the worker knows itself; ``gpu``
        (a job sent before queues were named) is read as its queue."""
        try:
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values.setdefault("course_id", "")
            if "gpu" in data and "queue" not in data:  # sent before queues were named
                values["queue"] = "gpu" if data["gpu"] is True else "cpu"
            unknown = set(data) - known - {"course_file", "gpu"}
            if unknown or not isinstance(values["course_id"], str):
                raise TypeError(f"fields {sorted(unknown)}")
            return cls(**{**values, "expected": tuple(values["expected"])})
        except (TypeError, KeyError, AttributeError) as exc:
            raise Refused(f"not a grading job message ({type(exc).__name__}: {exc})") from None


def _gpu_devices() -> tuple[str, ...]:
    """The GPUs this worker was given (``course worker --gpu N`` pins CUDA_VISIBLE_DEVICES to
    the GPU's UUID; a worker of the ``cpu`` queue has none)."""
    if os.environ.get("COURSE_WORKER_QUEUE", "cpu") == "cpu":
        return ()
    return tuple(d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d)


def _gpu_nodes() -> tuple[str, ...]:
    """The minor N of its GPU's /dev/nvidiaN (``course worker --gpu`` found it), bound into
    the sandbox; none on a ``cpu`` worker."""
    if os.environ.get("COURSE_WORKER_QUEUE", "cpu") == "cpu":
        return ()
    return tuple(n for n in os.environ.get("COURSE_WORKER_GPU_MINOR", "").split(",") if n)


def resolve_courses(course_files: Iterable[str]) -> dict[str, str]:
    """A worker's own courses, read once as it starts: course id (as each file declares it)
    -> that course file. Two files of one course id, or none at all, are errors."""
    courses: dict[str, str] = {}
    for path in course_files:
        ws = open_workspace(path)
        if ws.course.id in courses and courses[ws.course.id] != str(ws.course_file):
            raise UserError(f"{ws.course_file}: id: {ws.course.id} is also the id of "
                            f"{courses[ws.course.id]}: a worker grades each course from one file")
        courses[ws.course.id] = str(ws.course_file)
    if not courses:
        raise UserError("a worker grades only the courses it is given: name each course file "
                        "with --course FILE (repeat it for several) or $COURSE_WORKER_COURSES "
                        f"(files separated by {os.pathsep!r})")
    return courses


def _named(courses: Courses) -> str:
    return ", ".join(sorted(courses)) or "none"


def course_id_for(job: Job, courses: Courses) -> str:
    """``job``'s course among this worker's own ``courses``. A job of a course not among them
    is refused; one sent before jobs named their course goes to a worker's only course, and is
    refused by a worker of several."""
    if job.course_id:
        if job.course_id not in courses:
            raise Refused(f"job {job.id!r}: course {job.course_id!r} is not one this worker "
                          f"grades ({_named(courses)})")
        return job.course_id
    if len(courses) == 1:
        return next(iter(courses))
    raise Refused(f"job {job.id!r} names no course and this worker grades several "
                  f"({_named(courses)})")


def course_file_for(job: Job, courses: Courses) -> str:
    """The course file of ``job``'s course: the worker's own, never a path from the message."""
    return courses[course_id_for(job, courses)]


def own_course(courses: Courses, course_id: str, what: str = "a sweep"):
    """The workspace of this worker's own course ``course_id``, opened from the file it was
    given, and still that course (the file, read again, declares the same id); else Refused."""
    if course_id not in courses:
        raise Refused(f"{what}: course {course_id!r} is not one this worker grades "
                      f"({_named(courses)})")
    ws = open_workspace(courses[course_id])
    if ws.course.id != course_id:
        raise Refused(f"{what}: {ws.course_file} declares id {ws.course.id!r} now, not "
                      f"{course_id!r} as when this worker started (restart the worker)")
    return ws


def _other_gradebook(gb, ws, run: GradingRun, job: Job) -> str | None:
    """Why the gradebook this worker opened is not the job's course's, or None. One fleet
    grades several courses, each with its own gradebook; $COURSE_DB_URL in a worker's
    environment would name one database for all of them."""
    from sqlalchemy import inspect, text

    place = f"the gradebook {ws.db_url.split('@')[-1]}"  # no password in a log
    course_id = job.course_id or ws.course.id  # the worker's own course (course_file_for)
    if (run.student_id, run.assignment_id) != (job.student_id, job.assignment_id):
        return (f"{place} holds run {job.run_id} for {run.student_id}/{run.assignment_id}, "
                f"not {job.student_id}/{job.assignment_id}: it is not the gradebook of "
                f"{course_id} (is $COURSE_DB_URL set for several courses?)")
    if inspect(gb.session.connection()).has_table("course"):
        courses = set(gb.session.execute(text("SELECT id FROM course")).scalars())
        if courses and course_id not in courses:  # nbgrader's table: the course it is of
            return (f"{place} is the gradebook of {', '.join(sorted(courses))}, not "
                    f"{course_id} (is $COURSE_DB_URL set for several courses?)")
    return None


# what nbgrader's log says when its connection died under it (a restart, a failover): the
# driver's and SQLAlchemy's names for a lost connection, and the errors that follow one
LOST_DATABASE = ("OperationalError", "InterfaceError", "PendingRollbackError", "psycopg",
                 "server closed the connection", "terminating connection",
                 "connection is closed", "Can't reconnect until invalid transaction")


def lost_database(problem: str) -> bool:
    """Whether a grading error reads as the database lost mid-grading (retry: not the
    student's fault, nor the platform's), not a failure of the grading itself."""
    return any(marker in problem for marker in LOST_DATABASE)


def run_job(job: Job, worker: str, courses: Courses) -> str:
    """Grade ``job`` here, as its course among this worker's own ``courses``, and write its
    gradebook row. Returns the row's outcome; raises ``Refused`` for a job of another course
    (nothing graded, nothing written)."""
    ws = own_course(courses, course_id_for(job, courses), f"job {job.id!r}")
    install_schema_cache()  # once per worker process; nbgrader's check of its own schema
    try:
        # every gradebook this job opens (ours and nbgrader's): one engine per URL, kept for
        # this process's next job; on PostgreSQL no connection (server process) per opening
        with shared_engines():
            return _grade(job, worker, ws)
    except (OperationalError, InterfaceError) as exc:  # the database is down or restarting
        raise RetryLater(str(exc).splitlines()[0]) from None


def _grade(job: Job, worker: str, ws) -> str:
    """``run_job`` once the course is the worker's own: mark the row running, grade, close it."""
    with ws.gradebook() as gb:
        run = gb.session.get(GradingRun, job.run_id)
        if run is None:
            return "gone"  # the row was removed (the course was reset): nothing to grade
        mismatch = _other_gradebook(gb, ws, run, job)
        if mismatch:  # writing here would overwrite another course's row
            raise Refused(mismatch)
        if run.outcome in FINISHED:  # sending sets it queued; only a worker finishes it
            return run.outcome  # delivered again after it was done: done once is enough
        run.outcome, run.message, run.started_at, run.finished_at = (
            "running", f"on {worker}", utcnow(), None)
        gb.session.commit()
    kind, problem, warnings = autograde_one(str(ws.course_file), job.assignment_id,
                                            job.student_id, list(job.expected),
                                            gpu_devices=_gpu_devices(),
                                            gpu_nodes=_gpu_nodes())
    if kind == "error" and lost_database(problem):
        raise RetryLater(problem)  # nbgrader lost the database mid-grading
    with ws.gradebook() as gb:
        run = gb.session.get(GradingRun, job.run_id)
        record_result(gb, run, job.assignment_id, job.student_id, kind, problem, warnings)
        _announce_closed(gb, job.run_id)
        return kind


def _announce_closed(gb, run_id: int) -> None:
    """On PostgreSQL, wake the ``course grade`` that waits on this run (it LISTENs, and looks at
    the gradebook when woken): a NOTIFY after the commit that closed the row. The row is written
    already: a failure here only leaves the waiting side to look at its next timeout."""
    if gb.session.get_bind().dialect.name != "postgresql":
        return
    try:
        gb.session.execute(text("SELECT pg_notify(:channel, :run)"),
                           {"channel": CLOSED, "run": str(run_id)})
        gb.session.commit()
    except SQLAlchemyError as exc:
        with contextlib.suppress(SQLAlchemyError):
            gb.session.rollback()
        log.warning("run %s closed; telling those who wait failed: %s", run_id, exc)

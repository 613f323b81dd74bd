"""A grading job and how a worker runs it.

A job is one collected submission (its receipt) graded by one version of the graders; its id is
the receipt and the grader version, and its gradebook row (``course_grading_run``) is keyed the
same way. A job delivered twice (a worker killed, a broker restarted) rewrites that one row, and a
delivery of a job the row already finished after it was sent is skipped.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from ..calendar import utcnow
from ..errors import UserError
from ..gradebook import GradingRun
from ..gradebook.records import finish_run
from ..workspace import open_workspace

__all__ = ["FINISHED", "Job", "RetryLater", "course_file_for", "run_job"]

FINISHED = ("success", "error", "unreadable")
QUEUED = "queued"


class RetryLater(Exception):
    """The gradebook could not be reached: the job goes back to the queue, it did not fail."""


@dataclass(frozen=True)
class Job:
    course_file: str
    assignment_id: str
    student_id: str
    receipt_id: int | None
    grader_version: str
    run_id: int  # the gradebook row this job writes
    expected: tuple[str, ...]  # the assignment's notebooks
    sent: str  # ISO UTC time the job was sent
    gpu: bool = False
    course_id: str = ""  # one fleet grades every course on a hub; "": a job sent before that

    @property
    def id(self) -> str:
        """The receipt and the graders (a repeat rewrites the same row), within its course:
        two courses' gradebooks number their receipts each from 1."""
        receipt = self.receipt_id if self.receipt_id is not None else f"{self.student_id}-none"
        course = f"{self.course_id}/" if self.course_id else ""
        return f"{course}{self.assignment_id}/r{receipt}/g{self.grader_version}"

    @property
    def queue(self) -> str:
        return "gpu" if self.gpu else "cpu"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Job:
        return cls(**{**data, "expected": tuple(data["expected"])})


def _gpu_devices() -> tuple[str, ...]:
    """The GPUs this worker was given (``course worker --gpu N`` pins CUDA_VISIBLE_DEVICES)."""
    if os.environ.get("COURSE_WORKER_QUEUE") != "gpu":
        return ()
    return tuple(d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d)


def course_file_for(job: Job) -> str:
    """Where this worker finds the job's course: its own view of the shared folder for the
    course it was started with (``course worker --course``), else the path the job was sent
    from. A worker started for one course still grades another's jobs as that course."""
    bound = os.environ.get("COURSE_WORKER_COURSE")
    if bound and job.course_id in ("", os.environ.get("COURSE_WORKER_COURSE_ID")):
        return bound
    return job.course_file


def _other_gradebook(gb, ws, run: GradingRun, job: Job) -> str | None:
    """Why the gradebook this worker opened is not the job's course's, or None. One fleet
    grades several courses, each with its own gradebook; $COURSE_DB_URL in a worker's
    environment would name one database for all of them."""
    from sqlalchemy import inspect, text

    place = f"the gradebook {ws.db_url.split('@')[-1]}"  # no password in a log
    if (run.student_id, run.assignment_id) != (job.student_id, job.assignment_id):
        return (f"{place} holds run {job.run_id} for {run.student_id}/{run.assignment_id}, "
                f"not {job.student_id}/{job.assignment_id}: it is not the gradebook of "
                f"{job.course_id or ws.course.id} (is $COURSE_DB_URL set for several courses?)")
    if job.course_id and inspect(gb.session.connection()).has_table("course"):
        courses = set(gb.session.execute(text("SELECT id FROM course")).scalars())
        if courses and job.course_id not in courses:  # nbgrader's table: the course it is of
            return (f"{place} is the gradebook of {', '.join(sorted(courses))}, not "
                    f"{job.course_id} (is $COURSE_DB_URL set for several courses?)")
    return None


def run_job(job: Job, worker: str) -> str:
    """Grade ``job`` here and write its gradebook row. Returns the row's outcome."""
    from ..grade import autograde_one

    ws = open_workspace(course_file_for(job))
    try:
        with ws.gradebook() as gb:
            run = gb.session.get(GradingRun, job.run_id)
            if run is None:
                return "gone"  # the row was removed (the course was reset): nothing to grade
            mismatch = _other_gradebook(gb, ws, run, job)
            if mismatch:  # writing here would overwrite another course's row
                raise UserError(mismatch)
            if run.outcome in FINISHED:  # sending sets it queued; only a worker finishes it
                return run.outcome  # delivered again after it was done: done once is enough
            run.outcome, run.message, run.started_at, run.finished_at = (
                "running", f"on {worker}", utcnow(), None)
            gb.session.commit()
        kind, problem, warnings = autograde_one(str(ws.course_file), job.assignment_id,
                                                job.student_id, list(job.expected),
                                                gpu_devices=_gpu_devices())
        if kind == "error" and ("OperationalError" in problem or "psycopg" in problem):
            raise RetryLater(problem)  # nbgrader lost the database mid-grading
        with ws.gradebook() as gb:
            run = gb.session.get(GradingRun, job.run_id)
            if kind == "success":
                submission = gb.nb.find_submission(job.assignment_id, job.student_id)
                score, max_score = submission.score, submission.max_score
                gb.nb.db.rollback()
                finish_run(gb, run, "success", "; ".join(warnings), score, max_score)
            else:
                finish_run(gb, run, kind, problem)
            return kind
    except (OperationalError, InterfaceError) as exc:  # the database is down or restarting
        raise RetryLater(str(exc).splitlines()[0]) from None

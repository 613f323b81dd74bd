"""The ``celery`` grading backend: ``course grade`` on the fleet sends one job per submission to
its named queue, then follows the gradebook until every job's row is finished (the progress bar
advances as rows finish)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from ..backends import Batch, GradingBackend
from ..calendar import iso_utc, utcnow
from ..collect import collected_receipt_id
from ..grade_one import ENGINE, GradeOutcome, outcome_of
from ..gradebook import GradingRun
from ..gradebook.records import start_run
from ..workspace import Workspace
from .app import TASK, broker_url, make_app
from .jobs import FINISHED, QUEUED, Job

__all__ = ["CeleryBackend", "grade_on_fleet", "send_jobs"]

POLL_S = 0.25


def send_jobs(ws: Workspace, assignment_id: str, students: list[str], *, version: str,
              expected: list[str], queue: str) -> list[Job]:
    """Mark each submission's row queued and send its job to its named queue."""
    sent, jobs = iso_utc(utcnow()), []
    with ws.gradebook() as gb:
        for student_id in students:
            folder = ws.root / "submitted" / student_id / assignment_id
            run = start_run(gb, student_id, assignment_id, collected_receipt_id(folder), ENGINE,
                            version)
            run.outcome, run.message = QUEUED, ""
            gb.session.commit()
            # the course by id: each worker opens its own file of that course, never a path
            jobs.append(Job(ws.course.id, assignment_id, student_id, run.receipt_id, version,
                            run.id, tuple(expected), sent, queue))
    app = make_app(broker_url(ws), queues=(queue,))
    try:
        for job in jobs:
            app.send_task(TASK, args=(job.to_json(),), task_id=job.id, queue=job.queue)
    finally:
        app.close()
    return jobs


class CeleryBackend(GradingBackend):
    name = "celery"

    def grade(self, batch: Batch) -> list[GradeOutcome]:
        return grade_on_fleet(batch.ws, batch.assignment_id, batch.students,
                              version=batch.version, expected=batch.expected, queue=batch.queue,
                              collected=batch.collected, on_result=batch.on_result,
                              wait=batch.wait)


def grade_on_fleet(ws: Workspace, assignment_id: str, students: list[str], *, version: str,
                   expected: list[str], queue: str, collected: dict[str, str],
                   on_result: Callable | None = None, wait: bool = True) -> list:
    jobs = send_jobs(ws, assignment_id, students, version=version, expected=expected,
                     queue=queue)
    if not wait:
        return []
    pending = {job.run_id: job for job in jobs}
    outcomes = []
    gb = None  # one connection for all the polls: a new one each time costs the database a
    try:       # process (PostgreSQL) on the cores the workers grade on
        while pending:
            try:
                if gb is None:
                    gb = ws.gradebook()
                gb.session.rollback()  # a fresh snapshot: what the workers committed since
                rows = gb.session.scalars(select(GradingRun).where(GradingRun.id.in_(pending)))
                done = [row for row in rows if row.outcome in FINISHED]
            except (OperationalError, InterfaceError):  # the database is restarting: ask again
                done = []
                if gb is not None:
                    with contextlib.suppress(OperationalError, InterfaceError):
                        gb.close()
                    gb = None
            outcomes += _finished(done, pending, collected, on_result)
            if pending:
                time.sleep(POLL_S)
    finally:
        if gb is not None:
            gb.close()
    return sorted(outcomes, key=lambda o: o.student_id)


def _finished(done: list, pending: dict, collected: dict[str, str],
              on_result: Callable | None) -> list:
    """The outcomes of the runs in ``done`` (taken out of ``pending``), each reported."""
    outcomes = []
    for row in done:
        job = pending.pop(row.id)
        outcome = outcome_of(row, collected.get(job.student_id))
        outcomes.append(outcome)
        if on_result:
            on_result(outcome)
    return outcomes

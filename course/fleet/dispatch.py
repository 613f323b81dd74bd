"""The ``celery`` grading backend: ``course grade`` on the fleet sends one job per submission to
its named queue, then follows the gradebook until every job's row is finished (the progress bar
advances as rows finish).

On PostgreSQL it looks again when a worker says it closed a run (LISTEN ``jobs.CLOSED``, which
``run_job`` NOTIFYs after its commit) instead of every ``POLL_S``: a batch's end is seen at once,
not up to ``POLL_S`` later, and no query runs while nothing finishes. It still looks every
``NOTIFY_WAIT_S`` (a worker of an older version does not notify), and every ``POLL_S`` on SQLite
or once its listening connection is lost (a database restart)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..backends import Batch, GradingBackend
from ..calendar import iso_utc, utcnow
from ..collect import collected_receipt_id
from ..grade_one import ENGINE, GradeOutcome, outcome_of
from ..gradebook import GradingRun
from ..gradebook.records import start_run
from ..workspace import Workspace
from .app import TASK, broker_url, make_app
from .jobs import CLOSED, FINISHED, QUEUED, Job

__all__ = ["CeleryBackend", "grade_on_fleet", "send_jobs"]

POLL_S = 0.25  # between looks at the gradebook, where no notification wakes the wait
NOTIFY_WAIT_S = 1.0  # the longest wait for a notification before looking anyway


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
    with _closed_runs(ws.db_url) as pause:
        return _follow(ws, jobs, collected, on_result, pause)


def _follow(ws: Workspace, jobs: list[Job], collected: dict[str, str],
            on_result: Callable | None, pause: Callable[[], bool]) -> list:
    """Look at the jobs' rows until each is finished, calling ``pause`` between looks."""
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
                pause()
    finally:
        if gb is not None:
            gb.close()
    return sorted(outcomes, key=lambda o: o.student_id)


@contextlib.contextmanager
def _closed_runs(url: str) -> Iterator[Callable[[], bool]]:
    """A pause between looks at the gradebook: on PostgreSQL (psycopg) until a worker notifies
    ``CLOSED`` or ``NOTIFY_WAIT_S`` passed, on its own connection listening from before the
    first look (so no notification is missed); elsewhere, or once that connection fails, a
    sleep of ``POLL_S``. It returns whether a notification ended it."""
    listening = None
    with contextlib.suppress(SQLAlchemyError, OSError):
        engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            listening = engine.connect()
            listening.exec_driver_sql(f"LISTEN {CLOSED}")

    def pause() -> bool:
        nonlocal listening
        if listening is not None:
            import psycopg

            try:
                driver = listening.connection.driver_connection
                woken = bool(list(driver.notifies(timeout=NOTIFY_WAIT_S, stop_after=1)))
                list(driver.notifies(timeout=0))  # those that came meanwhile: the same look
                return woken
            except (psycopg.Error, SQLAlchemyError, OSError):  # the database restarted
                with contextlib.suppress(psycopg.Error, SQLAlchemyError, OSError):
                    listening.invalidate()
                listening = None
        time.sleep(POLL_S)
        return False

    try:
        yield pause
    finally:
        if listening is not None:
            with contextlib.suppress(SQLAlchemyError, OSError):
                listening.close()


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

"""The Celery application of the grading fleet.

A job is acknowledged only after it is graded (``acks_late``) and goes back to the queue when
its worker process dies (``reject_on_worker_lost``) or its connection drops, so a SIGKILLed
worker's job is graded by another at once; the queues are durable and the messages persistent,
so a broker restart loses nothing. Each worker takes one job per slot (prefetch 1). Results are
not kept by Celery: the gradebook is where they go. RabbitMQ's ``consumer_timeout`` must be
above the longest job (README, "Grading on a fleet").
"""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery
from kombu import Exchange, Queue

from ..errors import UserError
from ..settings import resolve_grading
from ..workspace import Workspace
from .jobs import Job, RetryLater, run_job

__all__ = ["QUEUES", "SWEEP", "TASK", "broker_url", "make_app"]

TASK = "course.grade_submission"
SWEEP = "course.sweep_deadlines"
QUEUES = ("cpu", "gpu")
SWEEP_EVERY = timedelta(minutes=1)


def broker_url(ws: Workspace | None) -> str:
    """``$COURSE_BROKER_URL`` (a container's setting), else the course file's grading.broker."""
    url = os.environ.get("COURSE_BROKER_URL") or (
        resolve_grading(ws.course, None).values.broker if ws is not None else None)
    if not url:
        raise UserError("grading on celery needs a broker: set grading.broker in the course file "
                        "(amqp://user:password@host/vhost) or $COURSE_BROKER_URL")
    return url


def _grade_submission(task, job: dict) -> str:
    return run_job(Job.from_json(job), worker=task.request.hostname or "worker")


def _sweep_deadlines(course_file: str) -> dict:
    from ..calendar import utcnow
    from ..workspace import open_workspace
    from .deadlines import sweep

    return sweep(open_workspace(course_file), now=utcnow())


def make_app(broker: str, *, sweep_course: str | None = None) -> Celery:
    """The fleet's Celery app on ``broker``; ``sweep_course``: also schedule the deadline sweep
    of that course file every minute (Celery beat, ``course worker --beat``)."""
    app = Celery("course", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name, durable=True)
                     for name in QUEUES],
        task_default_queue="cpu", task_default_exchange="cpu", task_default_routing_key="cpu",
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_transport_options={"confirm_publish": True},  # sent means the broker has it
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        # a job running when the broker goes away finishes here and writes its row; the copy
        # the broker delivers again then finds the row finished and skips it (course.fleet.jobs)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False, enable_utc=True)
    app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(RetryLater,), retry_backoff=1, retry_backoff_max=10,
             retry_jitter=False, max_retries=None)(_grade_submission)
    app.task(name=SWEEP, ignore_result=True)(_sweep_deadlines)
    if sweep_course:
        app.conf.beat_schedule = {"deadline-sweep": {
            "task": SWEEP, "schedule": SWEEP_EVERY, "args": (sweep_course,),
            "options": {"queue": "cpu"}}}
    return app

"""The Celery application of the grading fleet.

A job is acknowledged only after it is graded (``acks_late``) and goes back to the queue when
its worker process dies (``reject_on_worker_lost``) or its connection drops, so a SIGKILLed
worker's job is graded by another at once; the queues are durable and the messages persistent,
so a broker restart loses nothing. Each worker takes one job per slot (prefetch 1). Results are
not kept by Celery: the gradebook is where they go. RabbitMQ's ``consumer_timeout`` must be
above the longest job (README, "Grading on a fleet").

A worker's app knows the worker's own courses (course id -> course file) and nothing else:
a job or a sweep names a course id, and one of another course is refused (``jobs.Refused``),
logged and rejected without a requeue.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from celery import Celery
from celery.exceptions import Reject
from celery.utils.log import get_task_logger
from kombu import Exchange, Queue

from ..errors import UserError
from ..settings import resolve_grading
from ..workspace import Workspace
from .jobs import Job, Refused, RetryLater, run_job

__all__ = ["QUEUES", "SWEEP", "TASK", "broker_url", "make_app"]

TASK = "course.grade_submission"
SWEEP = "course.sweep_deadlines"
QUEUES = ("cpu", "gpu")  # always declared; a course may name others (grading.queue)
SWEEP_EVERY = timedelta(minutes=1)

log = get_task_logger("course.fleet")


def broker_url(ws: Workspace | None) -> str:
    """``$COURSE_BROKER_URL`` (a container's setting), else the course file's grading.broker."""
    url = os.environ.get("COURSE_BROKER_URL") or (
        resolve_grading(ws.course, None).values.broker if ws is not None else None)
    if not url:
        raise UserError("grading on celery needs a broker: set grading.broker in the course file "
                        "(amqp://user:password@host/vhost) or $COURSE_BROKER_URL")
    return url


def _refuse(exc: Refused, what: str = "") -> Reject:
    """One clear line in the worker's log, and the message rejected (not requeued): no other
    worker of this fleet should be handed what is not its course either."""
    log.error("refused%s: %s", f" {what}" if what else "", exc)
    return Reject(f"refused: {exc}", requeue=False)


def _grade_submission(task, job: dict, *, courses: Mapping[str, str]) -> str:
    try:
        return run_job(Job.from_json(job), worker=task.request.hostname or "worker",
                       courses=courses)
    except Refused as exc:
        named = repr(task.request.id) in str(exc)  # the refusal names the job already
        raise _refuse(exc, "" if named else f"grading job {task.request.id!r}") from None


Sweep = Callable[[Mapping[str, str], str, datetime], dict]  # course.sweep.sweep_course


def _sweep_deadlines(course_id: str, *, courses: Mapping[str, str], sweep: Sweep | None) -> dict:
    """Celery beat's minute: the sweep of ``course_id``, one of this worker's own courses
    (the beat schedules one per course; a course file named in a message is not opened)."""
    from ..calendar import utcnow

    if sweep is None:
        raise _refuse(Refused(f"deadline sweep of {course_id!r}: this worker does not sweep "
                              "(course worker --beat does)"))
    try:
        return sweep(courses, course_id, utcnow())
    except Refused as exc:
        raise _refuse(exc) from None  # it names the sweep and its course


def make_app(broker: str, *, courses: Mapping[str, str] | None = None,
             beat: bool = False, sweep: Sweep | None = None,
             queues: tuple[str, ...] = ()) -> Celery:
    """The fleet's Celery app on ``broker``. ``courses``: a worker's own courses (course id ->
    course file), the only ones its jobs and sweeps run for (none: an app that only sends,
    whose tasks refuse everything); ``beat``: also schedule each of those courses' deadline
    sweep every minute (Celery beat, ``course worker --beat``), run by ``sweep``
    (``course.sweep.sweep_course``: the sweep sits above the backends, so it is handed in);
    ``queues``: named queues besides ``cpu`` and ``gpu`` (``grading.queue``), declared durable
    like them."""
    if beat and sweep is None:
        raise ValueError("a beat needs the sweep it schedules")
    own = dict(courses or {})

    def grade_submission(task, job: dict) -> str:
        return _grade_submission(task, job, courses=own)

    def sweep_deadlines(course_id: str) -> dict:
        return _sweep_deadlines(course_id, courses=own, sweep=sweep)

    app = Celery("course", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name, durable=True)
                     for name in dict.fromkeys([*QUEUES, *queues])],
        task_default_queue="cpu", task_default_exchange="cpu", task_default_routing_key="cpu",
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_transport_options={"confirm_publish": True},  # sent means the broker has it
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        # a job running when the broker goes away finishes here and writes its row; the copy
        # the broker delivers again then finds the row finished and skips it (course.fleet.jobs)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False, enable_utc=True)
    # shared=False: these tasks (and the courses they see) are this app's alone; a shared task
    # would be registered in every app made later in the process, the first one winning
    app.task(name=TASK, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(RetryLater,), retry_backoff=1, retry_backoff_max=10,
             retry_jitter=False, max_retries=None)(grade_submission)
    app.task(name=SWEEP, shared=False, ignore_result=True)(sweep_deadlines)
    if beat:
        app.conf.beat_schedule = {f"deadline-sweep-{course_id}": {
            "task": SWEEP, "schedule": SWEEP_EVERY, "args": (course_id,),
            "options": {"queue": "cpu"}} for course_id in sorted(own)}
    return app

"""The fleet's broker and the grading time limits: how long RabbitMQ waits for a job.

A job (one submission, ``course.fleet.jobs``) is acknowledged only after it is graded (late
acks). RabbitMQ closes the channel of a consumer that holds a message longer than its
``consumer_timeout`` and hands the job to another worker, which is cut off the same way: a job
longer than that is never graded. So the broker's timeout must be above the longest job, which
the grading settings decide (``autograder.settings.job_limit``: each notebook's
``notebook_timeout`` plus the graders' margin, one notebook after another, plus the job's own
margin). The broker image sets ``BROKER_CONSUMER_TIMEOUT`` (deploy/images/rabbitmq-entrypoint.sh,
in milliseconds; a test compares them), and ``jobs_over_broker_timeout`` names each assignment
graded on the fleet whose jobs could outlast it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from autograder.settings import job_limit

from .settings import GradedCourse, resolve_grading

__all__ = ["BROKER_CONSUMER_TIMEOUT", "assignment_job_limit", "jobs_over_broker_timeout"]

BROKER_CONSUMER_TIMEOUT = 6 * 3600.0  # s: rabbitmq.conf's consumer_timeout, there in ms


def assignment_job_limit(course: GradedCourse, assignment_id: str, source: Path) -> float:
    """Seconds one submission of the assignment may take to grade: its notebooks in
    ``source/<assignment>/`` (at least one), each under the assignment's ``notebook_timeout``."""
    notebooks = len(list((Path(source) / assignment_id).glob("*.ipynb")))
    timeout = resolve_grading(course, assignment_id).values.notebook_timeout
    return job_limit(timeout, notebooks)


def jobs_over_broker_timeout(course: GradedCourse, source: Path, *,
                             broker_timeout: float = BROKER_CONSUMER_TIMEOUT
                             ) -> Iterator[tuple[int, str]]:
    """(index in ``assignments``, message) for each assignment graded on the fleet
    (``backend: celery``) whose job may take longer than the broker waits."""
    for index, assignment in enumerate(course.assignments):
        if resolve_grading(course, assignment.id).values.backend != "celery":
            continue
        limit = assignment_job_limit(course, assignment.id, source)
        if limit > broker_timeout:
            yield index, (f"a submission of {assignment.id!r} may take {limit:g} s to grade "
                          f"(its notebooks x (notebook_timeout + the graders' margin)), longer "
                          f"than the broker waits for a job ({broker_timeout:g} s, RabbitMQ's "
                          "consumer_timeout): lower notebook_timeout or raise consumer_timeout")

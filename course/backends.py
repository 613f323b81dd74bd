"""Where a batch of submissions is graded: one class per grading backend, chosen by name from a
registry (the course file's ``grading.backend``), as JupyterHub chooses its spawner.

A backend is a Python entry point in the group ``dl_course.grading_backends`` (pyproject.toml
lists the built-in ones: ``local``, the machine's own cores, and ``celery``, the fleet); a new
one is one class and one entry-point line. ``course.grade.grade`` prepares the batch (collects,
checks, generates) and hands it to the backend; each backend grades every submission with
``course.grade_one.autograde_one`` and closes its run with ``record_result``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Self

from .grade_one import GradeOutcome
from .grading_keys import BACKENDS_GROUP
from .registry import Registry
from .workspace import Workspace

__all__ = ["BACKENDS", "ENTRY_POINTS", "Batch", "GradingBackend", "backend_class", "backend_names"]

ENTRY_POINTS = BACKENDS_GROUP


@dataclass(frozen=True)
class Batch:
    """One assignment's submissions to grade, ready: collected, its notebooks registered."""

    ws: Workspace
    assignment_id: str
    students: list[str]
    version: str  # the graders' version (a checksum of the assignment's source)
    expected: list[str]  # the assignment's notebooks
    queue: str  # the named queue the assignment's jobs go to (grading.queue: cpu, gpu, ...)
    collected: dict[str, str] = field(default_factory=dict)  # student -> newer receipt's time
    on_result: Callable[[GradeOutcome], None] | None = None
    wait: bool = True  # False: return once the work is sent (a backend that sends it)


class GradingBackend(contextlib.AbstractContextManager):
    """Grades batches. Opened (``with``) before ``course grade`` collects, so a backend can
    start its workers meanwhile; ``grade`` returns the outcomes by student (none when it only
    sent the work and ``batch.wait`` is False)."""

    name: ClassVar[str]

    def __init__(self, ws: Workspace, assignment_id: str, *, workers: int, count: int):
        self.ws, self.assignment_id, self.workers, self.count = ws, assignment_id, workers, count

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def check(self, queue: str) -> None:
        """Refuse (``UserError``) a batch this backend cannot grade as asked, before anything is
        collected or sent: say so rather than grade it elsewhere without a word."""

    def grade(self, batch: Batch) -> list[GradeOutcome]:
        raise NotImplementedError


BACKENDS: Registry[GradingBackend] = Registry(ENTRY_POINTS, GradingBackend, "grading backend",
                                              first=("local", "celery"))


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def backend_class(name: str) -> type[GradingBackend]:
    return BACKENDS[name]

"""The ``local`` grading backend: this machine's cores, one process per submission at a time.

With ``workers > 1`` submissions are graded in parallel processes forked from multiprocessing's
fork server, which imports what grading needs once for all of them. An assignment on the
``gpu`` queue is graded with this machine's GPUs bound into each sandbox, or refused when it
has none: never on the CPU without a word.
"""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Self

from .backends import Batch, GradingBackend
from .collect import collected_receipt_id
from .errors import UserError
from .grade_one import (
    ENGINE,
    WORKER_MODULES,
    GradeOutcome,
    autograde_one,
    outcome_of,
    prepare_worker,
    record_result,
)
from .gradebook.records import start_run
from .nbgrader_engines import shared_engines

__all__ = ["LocalBackend", "local_gpus", "worker_pool"]


def _prepare_worker(environ: dict[str, str]) -> None:
    """A pool worker's start: ``prepare_worker``, and nbgrader's metadata check made to check
    its schema once (``autograder.nbgrader_schema``)."""
    from autograder.nbgrader_schema import install

    prepare_worker(environ)
    install()


def _autograde(*args) -> tuple[str, str, list]:
    """``autograde_one``, nbgrader's gradebooks of the job sharing one engine."""
    with shared_engines():
        return autograde_one(*args)


def local_gpus(environ: dict[str, str] | None = None, dev: Path = Path("/dev")) -> tuple[str, ...]:
    """The CUDA devices this machine lends its graders: ``$CUDA_VISIBLE_DEVICES`` when set
    (empty or ``-1``: none), else each ``/dev/nvidiaN``."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        given = [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
        return () if given in ([], ["-1"]) else tuple(given)
    found = [m.group(1) for path in dev.glob("nvidia*")
             if (m := re.fullmatch(r"nvidia(\d+)", path.name))]
    return tuple(sorted(found, key=int))


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes for ``autograde_one``, starting in the background. They are forked
    from multiprocessing's fork server, which imports ``WORKER_MODULES`` once for all of them;
    that server is a fresh interpreter, so no database connection or thread of this process is
    inherited."""
    context = get_context("forkserver")
    # grade_one first: it keeps nbformat's import cheap (autograder.import_costs); the list is
    # not read again once the server runs
    context.set_forkserver_preload(["course.grade_one", *WORKER_MODULES])
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_prepare_worker,
                               initargs=(dict(os.environ),))
    # The workers start at the first job, which waits for the fork server's imports: sent from
    # a thread, so this process collects and prepares the gradebook meanwhile. Jobs sent later
    # wait for it (the pool's lock).
    threading.Thread(target=pool.submit, args=(os.getpid,), daemon=True).start()
    return pool


class LocalBackend(GradingBackend):
    name = "local"

    pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        if self.workers > 1 and self.count > 1:
            # started before course grade collects and prepares the gradebook: overlapped
            self.pool = worker_pool(self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def check(self, queue: str) -> None:
        if queue == "gpu" and not local_gpus():
            raise UserError(
                f"{self.assignment_id} is graded on a GPU (grading.queue: gpu) and this machine "
                "has none (no /dev/nvidia*, or CUDA_VISIBLE_DEVICES empty): grade it with "
                "grading.backend: celery and a GPU worker, or set grading.queue: cpu")
        if queue not in ("cpu", "gpu"):
            raise UserError(f"{self.assignment_id}: the local backend grades the queues cpu and "
                            f"gpu, not {queue!r} (a fleet's named queue: grading.backend: celery)")

    def grade(self, batch: Batch) -> list[GradeOutcome]:
        ws, assignment_id = batch.ws, batch.assignment_id
        devices = local_gpus() if batch.queue == "gpu" else ()
        outcomes = []
        with ws.gradebook() as gb:
            runs, started = {}, {}
            for student_id in batch.students:
                folder = ws.root / "submitted" / student_id / assignment_id
                runs[student_id] = start_run(gb, student_id, assignment_id,
                                             collected_receipt_id(folder), ENGINE, batch.version)
                started[student_id] = time.perf_counter()

            def finish(student_id: str, kind: str, problem: str, warnings: list) -> None:
                run = runs[student_id]
                seconds = time.perf_counter() - started[student_id]
                record_result(gb, run, assignment_id, student_id, kind, problem, warnings)
                outcome = outcome_of(run, batch.collected.get(student_id), seconds, warnings)
                outcomes.append(outcome)
                if batch.on_result:
                    batch.on_result(outcome)

            args = (str(ws.course_file), assignment_id)
            if self.pool is None:
                from autograder.nbgrader_schema import install

                install()  # as a pool worker does (_prepare_worker)
                for student_id in batch.students:
                    started[student_id] = time.perf_counter()
                    finish(student_id, *_autograde(*args, student_id, batch.expected,
                                                   devices))
            else:
                futures = {self.pool.submit(_autograde, *args, s, batch.expected, devices): s
                           for s in batch.students}
                for future in as_completed(futures):
                    student_id = futures[future]
                    try:
                        kind, problem, warnings = future.result()
                    except Exception as exc:  # noqa: BLE001 - a dead worker takes only its job
                        kind, problem, warnings = (
                            "error", f"grading crashed: {type(exc).__name__}: {exc}", [])
                    finish(student_id, kind, problem, warnings)
        return sorted(outcomes, key=lambda o: o.student_id)

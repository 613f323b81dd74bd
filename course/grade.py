"""Grade collected submissions: nbgrader's autograde with our sandboxed engine inside it
(``autograder.nbgrader_bridge``), one grading-run row per submission and grader version.

One bad submission never stops the batch: its run ends as ``error`` with a reason the report
shows. With ``workers > 1`` submissions are graded in parallel processes; re-grading the same
submission with the same graders updates its run instead of adding one.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import autograder.import_costs  # noqa: F401 - first: before anything imports nbformat
from autograder.results import GradingReport

from .collect import collect, collected_receipt_id
from .errors import UserError
from .gradebook.records import finish_run, start_run
from .inbox import notebook_problem
from .release import folder_checksum, generate
from .workspace import Workspace, nbgrader_reason, open_workspace

__all__ = ["ENGINE", "GradeOutcome", "Problem", "collected_students", "default_workers", "grade",
           "prepare_worker", "problem_submissions", "worker_pool"]

ENGINE = "sandboxed-pytest"
# what ``autograde_one`` imports (nbformat, nbgrader, the engine): seconds, so it is imported
# by the workers, before their first job, and not by a command that only sends the jobs
WORKER_MODULES = ("autograder.single", "autograder.engine", "nbgrader.apps")


@dataclass(frozen=True)
class GradeOutcome:
    student_id: str
    outcome: str  # success | unreadable (the student's file) | error (the platform)
    score: float | None
    max_score: float | None
    message: str
    seconds: float
    warnings: tuple[str, ...] = ()
    collected: str | None = None  # received time (UTC) when grading collected a newer submission


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def collected_students(ws: Workspace, assignment_id: str) -> list[str]:
    submitted = ws.root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.parent.name for p in submitted.glob(f"*/{assignment_id}") if p.is_dir())


def _unreadable_notebook(folder: Path, expected: list[str]) -> str | None:
    """Why a submission cannot be graded at all, in one line, or None if it can."""
    from autograder.single import MAX_NOTEBOOK_BYTES

    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "the submission contains no notebook"
    if expected and not any(path.name in expected for path in notebooks):
        names = ", ".join(path.name for path in notebooks)
        return (f"{names}: not a notebook of this assignment (expected "
                f"{' and '.join(expected)}): not graded")
    for path in notebooks:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return f"{path.name} is larger than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: not graded"
        problem = notebook_problem(path.name, path.read_bytes())
        if problem:
            return f"{problem}: not graded"
    return None


def prepare_worker(environ: dict[str, str] | None = None) -> None:
    """Get a grading worker ready before its first job: import what grading needs and start its
    warm grading process (``autograder.engine``), which imports in parallel. The local pool's
    workers run it when they start, with the environment of the process that grades (the fork
    server's dates from its own start); Celery's too (``commands.fleet``)."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    for name in WORKER_MODULES:
        importlib.import_module(name)
    from autograder.engine import start_warm_server

    # one that cannot start now is started again, and its failure said, at the first job
    with contextlib.suppress(OSError):
        start_warm_server()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes for ``autograde_one``, starting in the background. They are forked
    from multiprocessing's fork server, which imports ``WORKER_MODULES`` once for all of them;
    that server is a fresh interpreter, so no database connection or thread of this process is
    inherited."""
    context = get_context("forkserver")
    # this module first: it keeps nbformat's import cheap (autograder.import_costs); the list
    # is not read again once the server runs
    context.set_forkserver_preload([__name__, *WORKER_MODULES])
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=prepare_worker,
                               initargs=(dict(os.environ),))
    # The workers start at the first job, which waits for the fork server's imports: sent from
    # a thread, so this process collects and prepares the gradebook meanwhile. Jobs sent later
    # wait for it (the pool's lock).
    threading.Thread(target=pool.submit, args=(os.getpid,), daemon=True).start()
    return pool


def autograde_one(course_file: str, assignment_id: str, student_id: str,
                  expected: list[str], gpu_devices: tuple[str, ...] = ()) -> tuple[str, str, list]:
    """Autograde one collected submission (in this process, a pool worker's or a Celery
    worker's: ``course.fleet.jobs``), with ``gpu_devices`` bound into the sandbox.
    Returns (outcome, message, warnings), read from the grading report the engine wrote beside
    each autograded notebook (``autograder.results``): a report's ``grading_error`` (the
    platform could not grade) makes the outcome ``error``; without any report, nbgrader's own
    failure message is the reason. A failed grading leaves the previous autograded notebooks in
    place: nbgrader removes them before it starts."""
    ws = open_workspace(course_file)
    folder = ws.root / "submitted" / student_id / assignment_id
    problem = _unreadable_notebook(folder, expected) if folder.is_dir() else "not collected"
    if problem is not None:
        return "unreadable", problem, []
    autograded = ws.root / "autograded" / student_id / assignment_id
    backup = autograded.with_name(f".{assignment_id}.last-good")
    shutil.rmtree(backup, ignore_errors=True)
    if autograded.is_dir():
        shutil.copytree(autograded, backup)
    api = ws.nbgrader_api()
    if gpu_devices:
        api.config.SandboxedGrading.gpu_devices = ",".join(gpu_devices)
    result = api.autograde(assignment_id, student_id, force=True, create=False)
    # read before the previous grading is put back: its reports are not this run's
    reports = [report for name in expected
               if (report := GradingReport.read(autograded, Path(name).stem)) is not None]
    warnings = sorted({warning for report in reports for warning in report.warnings})
    errors = [f"{report.notebook}: {report.grading_error}" if len(expected) > 1
              else report.grading_error for report in reports if report.grading_error]
    failed = not result["success"] or bool(errors)
    if failed and backup.is_dir():
        shutil.rmtree(autograded, ignore_errors=True)
        backup.rename(autograded)
    shutil.rmtree(backup, ignore_errors=True)
    if not failed:
        return "success", "", warnings
    return "error", "; ".join(errors) or nbgrader_reason(result), warnings


def grade(ws: Workspace, assignment_id: str, *, students: list[str] | None = None,
          workers: int | None = None,
          on_result: Callable[[GradeOutcome], None] | None = None,
          wait: bool = True) -> list[GradeOutcome]:
    """Autograde each student's submission that counts (or just ``students``').

    A collected copy older than the submission that counts (the student handed in again) is
    collected anew first, so a score always belongs to the receipt the policy judges. With
    ``grading.backend: celery`` one job per submission goes to the fleet (``course.fleet``);
    ``wait=False`` returns once they are sent (no outcomes).
    """
    ws.course.assignment(assignment_id)
    for student_id in students or []:
        ws.course.student(student_id)
    settings = ws.course.grading_for(assignment_id)
    workers = workers or settings["workers"] or default_workers()
    with contextlib.ExitStack() as stack:
        pool = None
        if settings["backend"] == "local" and workers > 1 and len(
                students if students is not None else collected_students(ws, assignment_id)) > 1:
            # started before the collecting and gradebook work below, which its start overlaps
            pool = stack.enter_context(worker_pool(workers))
        return _grade(ws, assignment_id, students, settings, pool, on_result, wait)


def _grade(ws: Workspace, assignment_id: str, students: list[str] | None, settings: dict,
           pool: ProcessPoolExecutor | None, on_result: Callable[[GradeOutcome], None] | None,
           wait: bool) -> list[GradeOutcome]:
    refreshed = {c.student_id: c.received_utc
                 for c in collect(ws, assignment_id, students=students, only_stale=True)}
    todo = students if students is not None else collected_students(ws, assignment_id)
    for student_id in todo:
        if not (ws.root / "submitted" / student_id / assignment_id).is_dir():
            raise UserError(f"{student_id} has handed in nothing for {assignment_id}")
    version = folder_checksum(ws.source / assignment_id)[:16]
    with ws.gradebook() as gb:
        registered = gb.nb.find_assignment(assignment_id).notebooks
    if not registered:  # nbgrader grades against the cells that generate_assignment recorded
        generate(ws, assignment_id)
    with ws.gradebook() as gb:
        expected = sorted(f"{nb.name}.ipynb" for nb in gb.nb.find_assignment(assignment_id).notebooks)
    if settings["backend"] == "celery":
        from .fleet.dispatch import grade_on_fleet

        return grade_on_fleet(ws, assignment_id, todo, version=version, expected=expected,
                              gpu=settings["gpu"], collected=refreshed, on_result=on_result,
                              wait=wait)
    outcomes = []
    with ws.gradebook() as gb:
        runs, started = {}, {}
        for student_id in todo:
            folder = ws.root / "submitted" / student_id / assignment_id
            runs[student_id] = start_run(gb, student_id, assignment_id,
                                         collected_receipt_id(folder), ENGINE, version)
            started[student_id] = time.perf_counter()

        def finish(student_id: str, kind: str, problem: str, warnings: list) -> None:
            run = runs[student_id]
            seconds = time.perf_counter() - started[student_id]
            if kind == "success":
                gb.nb.db.expire_all()  # nbgrader wrote the grades through its own session
                submission = gb.nb.find_submission(assignment_id, student_id)
                score, max_score = submission.score, submission.max_score
                gb.nb.db.rollback()  # end the read, so no lock is held while workers write
                finish_run(gb, run, "success", "; ".join(warnings), score, max_score)
                outcome = GradeOutcome(student_id, "success", score, max_score, "", seconds,
                                       tuple(warnings), refreshed.get(student_id))
            else:
                finish_run(gb, run, kind, problem)
                outcome = GradeOutcome(student_id, kind, None, None, problem, seconds,
                                       collected=refreshed.get(student_id))
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)

        course_file = str(ws.course_file)
        if pool is None:
            for student_id in todo:
                started[student_id] = time.perf_counter()
                finish(student_id, *autograde_one(course_file, assignment_id, student_id, expected))
        else:
            futures = {pool.submit(autograde_one, course_file, assignment_id, s, expected): s
                       for s in todo}
            for future in as_completed(futures):
                student_id = futures[future]
                try:
                    kind, problem, warnings = future.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker takes only its job
                    kind, problem, warnings = (
                        "error", f"grading crashed: {type(exc).__name__}: {exc}", [])
                finish(student_id, kind, problem, warnings)
    return sorted(outcomes, key=lambda o: o.student_id)


@dataclass(frozen=True)
class Problem:
    """A submission that needs the instructor's look after grading, and why in words."""

    student_id: str
    # not graded: the grading's outcome (unreadable, error); graded: "timed out", "did not
    # finish" (the notebook's process died) or "earned nothing"
    kind: str
    reason: str
    graded: bool = True


def problem_submissions(ws: Workspace, assignment_id: str,
                        outcomes: list[GradeOutcome]) -> list[Problem]:
    """The submissions of ``outcomes`` that were not graded (unreadable, a grading error), whose
    notebook did not run to the end (timed out: which cell never finished, when the engine
    could tell; crashed), or that earned nothing (why, as the feedback says it), by student.
    Read from each graded submission's grading reports (``autograder.results``)."""
    from autograder.results import REPORT_SUFFIX, GradingReport

    from .blank_work import why_nothing

    problems = []
    for outcome in sorted(outcomes, key=lambda o: o.student_id):
        if outcome.outcome != "success":
            problems.append(Problem(outcome.student_id, outcome.outcome, outcome.message,
                                    graded=False))
            continue
        graded = ws.root / "autograded" / outcome.student_id / assignment_id
        stopped = [report for path in sorted(graded.glob(f"*{REPORT_SUFFIX}"))
                   if (report := GradingReport.read(graded, path.name.removesuffix(
                       REPORT_SUFFIX))) is not None and report.notebook_error]
        points = (f" ({outcome.score:g} of {outcome.max_score:g} points)"
                  if outcome.score is not None and outcome.max_score else "")
        if stopped:
            timed_out = any("timed out" in report.notebook_error for report in stopped)
            reason = "; ".join(f"{report.notebook}.ipynb did not run to the end: "
                               f"{report.notebook_error}" for report in stopped)
            kind = "timed out" if timed_out else "did not finish"
            problems.append(Problem(outcome.student_id, kind, reason + points))
        elif outcome.score == 0 and outcome.max_score:
            problems.append(Problem(outcome.student_id, "earned nothing",
                                    "; ".join(why_nothing(ws, outcome.student_id,
                                                          assignment_id)) + points))
    return problems

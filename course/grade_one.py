"""Grade one collected submission: the unit a local pool worker or a Celery worker runs.

``autograde_one`` runs nbgrader's autograde with our sandboxed engine inside it
(``autograder.nbgrader_bridge``) on one student's collected folder and says how it went;
``record_result`` and ``outcome_of`` are the two ends of a grading run's row
(``course_grading_run``) that every backend shares: the score is read from nbgrader's gradebook
once, the row closed, and the outcome a caller sees built from the closed row.

A grading that is refused (no isolation here) or fails writes no score and hides no earlier one:
``autograde_one`` puts nbgrader's gradebook rows and the autograded folder of that submission
back as they were (nbgrader writes its zeros before our engine's refusal is known), and
``record_result`` keeps the last good score of the same receipt on the failed run's row, so the
status, the LMS export and the formgrader show the last good score (with the error beside it) or
none, never a 0 the submission did not earn.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import autograder.import_costs  # noqa: F401 - first: before anything imports nbformat
from autograder.results import GradingReport

from .gradebook import Gradebook, GradingRun
from .gradebook.records import finish_run
from .inbox import notebook_problem
from .workspace import Workspace, nbgrader_reason, open_workspace

__all__ = ["ENGINE", "WORKER_MODULES", "GradeOutcome", "autograde_one", "outcome_of",
           "prepare_worker", "record_result"]

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


# one submission's rows in nbgrader's gradebook that its autograde writes: the submission's
# time and extension; per notebook its late penalty and flag; per cell its grade and comment
_SUBMISSION_FIELDS = ("timestamp", "extension")
_NOTEBOOK_FIELDS = ("late_submission_penalty", "flagged")
_GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
_COMMENT_FIELDS = ("auto_comment", "manual_comment")


def _nbgrader_rows(ws: Workspace, assignment_id: str, student_id: str) -> dict | None:
    """What nbgrader's gradebook holds of this submission (None: no submission yet), to put
    back after a failed grading (``_put_back_nbgrader_rows``)."""
    from nbgrader.api import MissingEntry

    with ws.gradebook() as gb:
        try:
            submission = gb.nb.find_submission(assignment_id, student_id)
        except MissingEntry:
            return None
        rows = {"": {name: getattr(submission, name) for name in _SUBMISSION_FIELDS}}
        for notebook in submission.notebooks:
            rows[notebook.name] = {name: getattr(notebook, name) for name in _NOTEBOOK_FIELDS}
            for grade in notebook.grades:
                rows[(notebook.name, "grade", grade.name)] = {
                    name: getattr(grade, name) for name in _GRADE_FIELDS}
            for comment in notebook.comments:
                rows[(notebook.name, "comment", comment.name)] = {
                    name: getattr(comment, name) for name in _COMMENT_FIELDS}
        gb.nb.db.rollback()
    return rows


def _put_back_nbgrader_rows(ws: Workspace, assignment_id: str, student_id: str,
                            rows: dict | None) -> None:
    """nbgrader's rows of this submission as ``_nbgrader_rows`` read them before a grading that
    failed: nbgrader writes the submission and its zeros before our engine says it refused, and
    the formgrader would show them. A submission that failed grading created is removed."""
    from nbgrader.api import MissingEntry

    with ws.gradebook() as gb:
        nb = gb.nb
        nb.db.expire_all()  # nbgrader wrote through its own session
        try:
            submission = nb.find_submission(assignment_id, student_id)
        except MissingEntry:
            return
        if rows is None:
            nb.remove_submission(assignment_id, student_id)
            return
        for record, fields in [(submission, rows[""])] + [
                (notebook, rows.get(notebook.name, {})) for notebook in submission.notebooks]:
            for name, value in fields.items():
                setattr(record, name, value)
        for notebook in submission.notebooks:
            for kind, records in (("grade", notebook.grades), ("comment", notebook.comments)):
                for record in records:
                    for name, value in rows.get((notebook.name, kind, record.name), {}).items():
                        setattr(record, name, value)
        nb.db.commit()


def autograde_one(course_file: str, assignment_id: str, student_id: str,
                  expected: list[str], gpu_devices: tuple[str, ...] = (),
                  gpu_nodes: tuple[str, ...] = ()) -> tuple[str, str, list]:
    """Autograde one collected submission (in this process, a pool worker's or a Celery
    worker's: ``course.fleet.jobs``), the sandbox's CUDA seeing ``gpu_devices`` (UUIDs) and
    the device nodes /dev/nvidiaN of ``gpu_nodes`` bound into it.
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
    before = _nbgrader_rows(ws, assignment_id, student_id)
    api = ws.nbgrader_api()
    if gpu_devices:
        api.config.SandboxedGrading.gpu_devices = ",".join(gpu_devices)
    if gpu_nodes:
        api.config.SandboxedGrading.gpu_nodes = ",".join(gpu_nodes)
    result = api.autograde(assignment_id, student_id, force=True, create=False)
    # read before the previous grading is put back: its reports are not this run's
    reports = [report for name in expected
               if (report := GradingReport.read(autograded, Path(name).stem)) is not None]
    warnings = sorted({warning for report in reports for warning in report.warnings})
    errors = [f"{report.notebook}: {report.grading_error}" if len(expected) > 1
              else report.grading_error for report in reports if report.grading_error]
    failed = not result["success"] or bool(errors)
    if failed:  # nothing of this grading stays: nbgrader's rows and files as they were
        _put_back_nbgrader_rows(ws, assignment_id, student_id, before)
        shutil.rmtree(autograded, ignore_errors=True)
        if backup.is_dir():
            backup.rename(autograded)
    shutil.rmtree(backup, ignore_errors=True)
    if not failed:
        return "success", "", warnings
    return "error", "; ".join(errors) or nbgrader_reason(result), warnings


def record_result(gb: Gradebook, run: GradingRun, assignment_id: str, student_id: str,
                  kind: str, problem: str, warnings: list) -> None:
    """Close ``run`` with what ``autograde_one`` returned: on success the score nbgrader wrote
    (through its own session, so read afresh), with the warnings as its message. A failure
    keeps the score the row held (``start_run``: the last good grading of this receipt by
    these graders, which ``autograde_one`` put back in nbgrader's tables), with its error."""
    if kind == "success":
        gb.nb.db.expire_all()  # nbgrader wrote the grades through its own session
        submission = gb.nb.find_submission(assignment_id, student_id)
        score, max_score = submission.score, submission.max_score
        gb.nb.db.rollback()  # end the read, so no lock is held while workers write
        finish_run(gb, run, "success", "; ".join(warnings), score, max_score)
        return
    finish_run(gb, run, kind, problem, run.score, run.max_score)  # the last good score stays


def outcome_of(run: GradingRun, collected: str | None = None, seconds: float | None = None,
               warnings: list | None = None) -> GradeOutcome:
    """What a caller sees of a closed run (``collected``: when grading collected a newer
    submission first; ``seconds``: measured by the caller, else the row's own times;
    ``warnings``: as graded, else read back from the row's message)."""
    if seconds is None:
        seconds = (run.finished_at - run.started_at).total_seconds()
    if run.outcome == "success":
        if warnings is None:
            warnings = run.message.split("; ") if run.message else []
        warnings = tuple(warnings)
        return GradeOutcome(run.student_id, "success", run.score, run.max_score, "", seconds,
                            warnings, collected)
    return GradeOutcome(run.student_id, run.outcome, None, None, run.message, seconds,
                        collected=collected)

"""Grade collected submissions: nbgrader's autograde with our sandboxed engine inside it
(``autograder.nbgrader_bridge``), one grading-run row per submission and grader version.

One bad submission never stops the batch: its run ends as ``error`` with a reason the report
shows. With ``workers > 1`` submissions are graded in parallel processes; re-grading the same
submission with the same graders updates its run instead of adding one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import nbformat
from nbformat.reader import NotJSONError

from autograder.single import MAX_NOTEBOOK_BYTES

from .collect import RECEIPT_FILE
from .gradebook.records import finish_run, start_run
from .release import folder_checksum, generate
from .workspace import Workspace, open_workspace

__all__ = ["ENGINE", "GradeOutcome", "collected_students", "default_workers", "grade"]

ENGINE = "sandboxed-pytest"
UNSAFE_MARK = "not tamper-proof"


@dataclass(frozen=True)
class GradeOutcome:
    student_id: str
    outcome: str  # success | error
    score: float | None
    max_score: float | None
    message: str
    seconds: float
    warnings: tuple[str, ...] = ()


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def collected_students(ws: Workspace, assignment_id: str) -> list[str]:
    submitted = ws.root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.parent.name for p in submitted.glob(f"*/{assignment_id}") if p.is_dir())


def _unreadable_notebook(folder: Path) -> str | None:
    """Why a submission cannot be graded at all, in one line, or None if it can."""
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "the submission contains no notebook"
    for path in notebooks:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return f"{path.name} is larger than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: not graded"
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except NotJSONError:
            return f"{path.name} is not valid JSON (a damaged or non-notebook file): not graded"
        except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"{path.name} is not a valid notebook ({first[:200]}): not graded"
    return None


def _nbgrader_error(result: dict) -> str:
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["nbgrader autograde failed"])[-1][:500]


def _receipt_id(folder: Path) -> int | None:
    try:
        return json.loads((folder / RECEIPT_FILE).read_text())["receipt_id"]
    except (OSError, ValueError, KeyError):
        return None


def autograde_one(course_file: str, assignment_id: str, student_id: str) -> tuple[str | None, list]:
    """Autograde one collected submission (in this process or a worker's).
    Returns (problem or None, warnings)."""
    ws = open_workspace(course_file)
    folder = ws.root / "submitted" / student_id / assignment_id
    problem = _unreadable_notebook(folder) if folder.is_dir() else "not collected"
    if problem is not None:
        return problem, []
    result = ws.nbgrader_api(assignment_id).autograde(assignment_id, student_id, force=True,
                                                     create=False)
    log = result.get("log") or ""
    # nbgrader's log lines read "[AutogradeApp | WARNING] <message>"
    warnings = sorted({line.split("]", 1)[-1].strip() for line in log.splitlines()
                       if UNSAFE_MARK in line})
    return (None if result["success"] else _nbgrader_error(result)), warnings


def grade(ws: Workspace, assignment_id: str, *, students: list[str] | None = None,
          workers: int | None = None,
          on_result: Callable[[GradeOutcome], None] | None = None) -> list[GradeOutcome]:
    """Autograde each collected submission (or just ``students``)."""
    ws.course.assignment(assignment_id)
    todo = students if students is not None else collected_students(ws, assignment_id)
    for student_id in todo:
        ws.course.student(student_id)
    version = folder_checksum(ws.source / assignment_id)[:16]
    workers = workers or ws.course.grading_for(assignment_id)["workers"] or default_workers()
    with ws.gradebook() as gb:
        registered = gb.nb.find_assignment(assignment_id).notebooks
    if not registered:  # nbgrader grades against the cells that generate_assignment recorded
        generate(ws, assignment_id)
    outcomes = []
    with ws.gradebook() as gb:
        runs, started = {}, {}
        for student_id in todo:
            folder = ws.root / "submitted" / student_id / assignment_id
            runs[student_id] = start_run(gb, student_id, assignment_id, _receipt_id(folder),
                                         ENGINE, version)
            started[student_id] = time.perf_counter()

        def finish(student_id: str, problem: str | None, warnings: list) -> None:
            run = runs[student_id]
            seconds = time.perf_counter() - started[student_id]
            if problem is None:
                gb.nb.db.expire_all()  # nbgrader wrote the grades through its own session
                submission = gb.nb.find_submission(assignment_id, student_id)
                score, max_score = submission.score, submission.max_score
                gb.nb.db.rollback()  # end the read, so no lock is held while workers write
                finish_run(gb, run, "success", "; ".join(warnings), score, max_score)
                outcome = GradeOutcome(student_id, "success", score, max_score, "", seconds,
                                       tuple(warnings))
            else:
                finish_run(gb, run, "error", problem)
                outcome = GradeOutcome(student_id, "error", None, None, problem, seconds)
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)

        course_file = str(ws.course_file)
        if workers <= 1 or len(todo) <= 1:
            for student_id in todo:
                started[student_id] = time.perf_counter()
                finish(student_id, *autograde_one(course_file, assignment_id, student_id))
        else:
            # spawn: a fresh interpreter, no database connections inherited from this one
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(autograde_one, course_file, assignment_id, s): s
                           for s in todo}
                for future in as_completed(futures):
                    student_id = futures[future]
                    try:
                        problem, warnings = future.result()
                    except Exception as exc:  # noqa: BLE001 - a dead worker takes only its job
                        problem, warnings = f"grading crashed: {type(exc).__name__}: {exc}", []
                    finish(student_id, problem, warnings)
    return sorted(outcomes, key=lambda o: o.student_id)

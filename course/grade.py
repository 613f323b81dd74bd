"""Grade collected submissions with nbgrader's autograde, one grading run row per submission.

One bad submission never stops the batch: its run ends as ``error`` with a reason the report
shows, and the others are graded. (The sandboxed engine replaces nbgrader's in-kernel execution
behind this same function.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.reader import NotJSONError

from .collect import RECEIPT_FILE
from .gradebook.records import finish_run, start_run
from .release import folder_checksum, generate
from .workspace import Workspace

__all__ = ["ENGINE", "GradeOutcome", "collected_students", "grade"]

ENGINE = "nbgrader-autograde"


@dataclass(frozen=True)
class GradeOutcome:
    student_id: str
    outcome: str  # success | error
    score: float | None
    max_score: float | None
    message: str
    seconds: float


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
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except NotJSONError:
            return f"{path.name} is not valid JSON (a damaged or non-notebook file): not graded"
        except (ValueError, KeyError, TypeError, nbformat.ValidationError) as exc:  # damaged
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


def grade(ws: Workspace, assignment_id: str, *, students: list[str] | None = None,
          on_result: Callable[[GradeOutcome], None] | None = None) -> list[GradeOutcome]:
    """Autograde each collected submission (or just ``students``)."""
    ws.course.assignment(assignment_id)
    todo = students if students is not None else collected_students(ws, assignment_id)
    version = folder_checksum(ws.source / assignment_id)[:16]
    with ws.gradebook() as gb:
        registered = gb.nb.find_assignment(assignment_id).notebooks
    if not registered:  # nbgrader grades against the cells that generate_assignment recorded
        generate(ws, assignment_id)
    api = ws.nbgrader_api()
    outcomes = []
    with ws.gradebook() as gb:
        for student_id in todo:
            ws.course.student(student_id)
            folder = ws.root / "submitted" / student_id / assignment_id
            started = time.perf_counter()
            run = start_run(gb, student_id, assignment_id, _receipt_id(folder), ENGINE, version)
            problem = _unreadable_notebook(folder) if folder.is_dir() else "not collected"
            if problem is None:
                result = api.autograde(assignment_id, student_id, force=True, create=False)
                problem = None if result["success"] else _nbgrader_error(result)
            if problem is None:
                gb.nb.db.expire_all()  # nbgrader wrote the grades through its own session
                submission = gb.nb.find_submission(assignment_id, student_id)
                score, max_score = submission.score, submission.max_score
                finish_run(gb, run, "success", score=score, max_score=max_score)
                outcome = GradeOutcome(student_id, "success", score, max_score, "",
                                       time.perf_counter() - started)
            else:
                finish_run(gb, run, "error", problem)
                outcome = GradeOutcome(student_id, "error", None, None, problem,
                                       time.perf_counter() - started)
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)
    return outcomes

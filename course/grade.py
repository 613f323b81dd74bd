"""Grade an assignment's collected submissions: the batch ``course grade``, the formgrader's
Autograde and the deadline sweep start.

``grade`` collects anew what a student handed in again, checks every submission it was asked
for, registers the assignment's notebooks, and hands the batch to the course's grading backend
(``course.backends``: ``local`` or ``celery``), which grades each submission with
``course.grade_one``. One bad submission never stops the batch: its run ends as ``error`` with
a reason the report shows; re-grading the same submission with the same graders updates its run
instead of adding one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .backends import Batch, backend_class
from .collect import collect
from .errors import UserError
from .grade_one import GradeOutcome
from .release import folder_checksum, generate
from .workspace import Workspace

__all__ = ["Problem", "collected_students", "default_workers", "grade", "problem_submissions"]


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def collected_students(ws: Workspace, assignment_id: str) -> list[str]:
    submitted = ws.root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.parent.name for p in submitted.glob(f"*/{assignment_id}") if p.is_dir())


def grade(ws: Workspace, assignment_id: str, *, students: list[str] | None = None,
          workers: int | None = None,
          on_result: Callable[[GradeOutcome], None] | None = None,
          wait: bool = True) -> list[GradeOutcome]:
    """Autograde each student's submission that counts (or just ``students``').

    A collected copy older than the submission that counts (the student handed in again) is
    collected anew first, so a score always belongs to the receipt the policy judges. The
    course file's ``grading.backend`` grades the batch; one that sends the work (``celery``)
    returns at once with ``wait=False`` (no outcomes).
    """
    ws.course.assignment(assignment_id)
    for student_id in students or []:
        ws.course.student(student_id)
    settings = ws.course.grading_for(assignment_id)
    queue = settings["queue"]
    count = len(students if students is not None else collected_students(ws, assignment_id))
    backend = backend_class(settings["backend"])(
        ws, assignment_id, workers=workers or settings["workers"] or default_workers(),
        count=count)
    backend.check(queue)
    # opened before the collecting and gradebook work below, which a pool's start overlaps
    with backend:
        refreshed = {c.student_id: c.received_utc
                     for c in collect(ws, assignment_id, students=students, only_stale=True)}
        todo = students if students is not None else collected_students(ws, assignment_id)
        for student_id in todo:
            if not (ws.root / "submitted" / student_id / assignment_id).is_dir():
                raise UserError(f"{student_id} has handed in nothing for {assignment_id}")
        version = folder_checksum(ws.source / assignment_id)[:16]
        expected = _registered_notebooks(ws, assignment_id)
        if not expected:  # nbgrader grades against the cells generate_assignment recorded
            generate(ws, assignment_id)
            expected = _registered_notebooks(ws, assignment_id)
        return backend.grade(Batch(ws, assignment_id, todo, version, expected, queue, refreshed,
                                   on_result, wait))


def _registered_notebooks(ws: Workspace, assignment_id: str) -> list[str]:
    """The assignment's notebooks as nbgrader recorded them (``generate``), by file name."""
    with ws.gradebook() as gb:
        return sorted(f"{nb.name}.ipynb" for nb in gb.nb.find_assignment(assignment_id).notebooks)


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
    from autograder.results import GradingReport

    from .blank_work import why_nothing

    problems = []
    for outcome in sorted(outcomes, key=lambda o: o.student_id):
        if outcome.outcome != "success":
            problems.append(Problem(outcome.student_id, outcome.outcome, outcome.message,
                                    graded=False))
            continue
        graded = ws.root / "autograded" / outcome.student_id / assignment_id
        stopped = [report for report in GradingReport.read_all(graded)
                   if report.notebook_error]
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

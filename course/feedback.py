"""Feedback: nbgrader's generate_feedback on the graded submissions, returned to students
through the course exchange (where ``nbgrader fetch_feedback`` and the service's feedback route
find it: ``exchange/<course>/feedback/<assignment>/<student>/<receipt id>/<version>/``).

nbgrader's autograde restores a test cell's source from the gradebook, hidden tests included, so
the feedback HTML would show them. ``HideHiddenTests`` runs in nbgrader's GenerateFeedback (on
the copy nbgrader reads, never on the autograded notebook) and replaces each hidden-test region
by one line saying how many lines it hid; the cell keeps its points and its result (what it
printed, the error's name and message). Beside it, ``HideTestValues`` drops test cells'
values (``Out[3]: 3``), ``ExplainZeroPoints`` puts the reasons a hand-in earned 0 points at the
top of each page, and the page loads no MathJax from a CDN (``OFFLINE_MATHS``). The course's
nbgrader config (``Workspace.nbgrader_config``) puts them in, so the formgrader's "generate
feedback" and ``nbgrader generate_feedback`` make the same pages as ``course feedback``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from .gradebook import GradingRun, Receipt
from .nbgrader_steps import HideHiddenTests, strip_hidden_tests
from .receipt_files import RECEIPT_FILE, read_receipt_id
from .workspace import Workspace, nbgrader_reason

__all__ = ["NOTHING_HANDED_IN", "FeedbackResult", "HideHiddenTests", "Returned",
           "return_feedback", "strip_hidden_tests"]  # the last two re-exported from nbgrader_steps


@dataclass(frozen=True)
class Returned:
    student_id: str
    receipt_id: int
    files: tuple[str, ...]  # the notebooks' HTML file names
    unchanged: bool  # the exchange already held exactly this feedback: nothing new stored


NOTHING_HANDED_IN = "nothing handed in"  # the not_graded reason of a student with no receipt


@dataclass(frozen=True)
class FeedbackResult:
    assignment_id: str
    returned: list[Returned] = field(default_factory=list)
    # graded students (grading attempted) with no feedback returned: student -> reason
    not_generated: dict[str, str] = field(default_factory=dict)
    # students with no graded submission: student -> what stage they are at
    not_graded: dict[str, str] = field(default_factory=dict)
    # graded students whose feedback is not open yet (the course file's feedback: when):
    # student -> when it opens; nothing generated or returned
    held: dict[str, str] = field(default_factory=dict)


def _latest_runs(gb, assignment_id: str) -> dict[str, GradingRun]:
    rows = gb.session.scalars(select(GradingRun).where(GradingRun.assignment_id == assignment_id))
    latest: dict[str, GradingRun] = {}
    for row in sorted(rows, key=lambda r: (r.started_at, r.id)):
        latest[row.student_id] = row
    return latest


def return_feedback(ws: Workspace, assignment_id: str, *, students: list[str] | None = None,
                    now: dt.datetime | None = None) -> FeedbackResult:
    """Generate feedback (nbgrader, hidden tests left out, each at its feedback level) for
    each graded submission of the roster's students (or just ``students``) and return it
    through the exchange, attached to the receipt of the submission that was graded; a
    student's feedback not open at ``now`` (default: the clock) is held. Feedback identical to
    what the exchange already holds for that submission is not stored again."""
    from .calendar import utcnow
    from .feedback_gate import feedback_open
    from .store import CourseExchange

    now = utcnow() if now is None else now

    ws.course.assignment(assignment_id)
    todo = students if students is not None else [p.id for p in ws.course.roster.students]
    for student_id in todo:
        ws.course.student(student_id)
    result = FeedbackResult(assignment_id)
    with ws.gradebook() as gb:
        runs = _latest_runs(gb, assignment_id)
        handed_in = set(gb.session.scalars(
            select(Receipt.student_id).where(Receipt.assignment_id == assignment_id)))

    graded = []
    for student_id in todo:
        run = runs.get(student_id)
        autograded = ws.root / "autograded" / student_id / assignment_id
        if run is not None and run.outcome == "running":
            result.not_graded[student_id] = "grading did not finish: run course grade again"
        elif run is not None and run.outcome != "success":
            result.not_generated[student_id] = f"grading failed: {run.message}"
        elif any(autograded.glob("*.ipynb")):
            graded.append(student_id)
        elif (ws.root / "submitted" / student_id / assignment_id).is_dir():
            result.not_graded[student_id] = "collected but not graded yet: run course grade"
        elif student_id in handed_in:
            result.not_graded[student_id] = "handed in but not collected yet: run course collect"
        else:
            result.not_graded[student_id] = NOTHING_HANDED_IN
    if not graded:
        return result

    api = ws.nbgrader_api()  # its config hides hidden tests, says why 0 points (Workspace)
    exchange = CourseExchange(ws.course_file)
    try:
        for student_id in graded:
            receipt_id = read_receipt_id(ws.root / "autograded" / student_id / assignment_id)
            if receipt_id is None:
                result.not_generated[student_id] = (
                    f"autograded/{student_id}/{assignment_id}/{RECEIPT_FILE} is missing: "
                    "which submission was graded? collect and grade again")
                continue
            receipt = exchange.gb.session.get(Receipt, receipt_id)
            if receipt is None or (receipt.student_id, receipt.assignment_id) != (
                    student_id, assignment_id):
                result.not_generated[student_id] = (
                    f"receipt {receipt_id} of the graded submission is not {student_id}'s "
                    f"{assignment_id} in the gradebook")
                continue
            opening = feedback_open(ws.course, exchange.gb, student_id, assignment_id, now)
            if not opening.open:
                result.held[student_id] = opening.reason
                continue
            outcome = api.generate_feedback(assignment_id, student_id, force=True)
            if not outcome["success"]:
                result.not_generated[student_id] = (
                    f"nbgrader generate_feedback failed: {nbgrader_reason(outcome)}")
                continue
            folder = ws.root / "feedback" / student_id / assignment_id
            pages = {p.name: p.read_bytes() for p in sorted(folder.glob("*.html"))}
            if not pages:
                result.not_generated[student_id] = f"nbgrader wrote no HTML into {folder}"
                continue
            unchanged = exchange.feedback_files(receipt) == pages
            if not unchanged:
                exchange.release_feedback(receipt, pages)
            result.returned.append(Returned(student_id, receipt_id, tuple(sorted(pages)),
                                            unchanged))
    finally:
        exchange.close()
    return result

"""Blank work: notebooks handed in that cannot earn anything, named while the student can still
hand in again. Under ``pass_threshold: 0`` such a hand-in counts as on time, so ``course
submit`` says so at once, and the feedback on a hand-in that earned 0 points says why
(``why_nothing``; the feedback's own nbgrader step, ``course.nbgrader_steps.ExplainZeroPoints``,
puts it at the top of each page however feedback is generated).

Blank: a notebook with no cells, or the released notebook handed back unchanged (the same
bytes, or the same cells, as when Jupyter re-saved it untouched). The released versions are the
student versions in the exchange's outbound folder (``course release`` puts them there). The
checks themselves live in ``course.nbgrader_steps``, which the workspace's nbgrader
configuration may reach (a stage may not be).
"""

from __future__ import annotations

from .nbgrader_steps import (
    blank_notebooks,
    cells_key,
    notebooks_in,
    released_folder,
    zero_points_reasons,
)
from .workspace import Workspace

__all__ = ["blank_notebooks", "cells_key", "notebooks_in", "released_notebooks", "why_nothing"]


def released_notebooks(ws: Workspace, assignment_id: str) -> dict[str, bytes]:
    return notebooks_in(released_folder(ws.root, ws.course.id, assignment_id))


def why_nothing(ws: Workspace, student_id: str, assignment_id: str) -> list[str]:
    """Why the graded submission of ``student_id`` earned 0 points, in words for the student:
    a notebook that did not run to the end (the grading report's error), blank notebooks, or
    else that no test passed."""
    return zero_points_reasons(ws.root, ws.course.id, student_id, assignment_id)

"""Blank work: notebooks handed in that cannot earn anything, named while the student can still
hand in again. Under ``pass_threshold: 0`` such a hand-in counts as on time, so ``course
submit`` says so at once, and the feedback on a hand-in that earned 0 points says why
(``why_nothing``).

Blank: a notebook with no cells, or the released notebook handed back unchanged (the same
bytes, or the same cells, as when Jupyter re-saved it untouched). The released versions are the
student versions in the exchange's outbound folder (``course release`` puts them there).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

from .workspace import Workspace

__all__ = ["blank_notebooks", "cells_key", "notebooks_in", "released_notebooks", "why_nothing"]


def notebooks_in(folder: Path) -> dict[str, bytes]:
    """The notebooks under ``folder`` by path inside it (hidden ones left out)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*.ipynb"))
            if path.is_file() and not any(part.startswith(".")
                                          for part in path.relative_to(folder).parts)}


def released_notebooks(ws: Workspace, assignment_id: str) -> dict[str, bytes]:
    return notebooks_in(ws.root / "exchange" / ws.course.id / "outbound" / assignment_id)


def _cells(content: bytes) -> list[tuple[str, str]] | None:
    try:
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        return [(cell.cell_type, cell.source) for cell in nb.cells]
    except Exception:  # noqa: BLE001 - junk handed in is simply not like the release
        return None


def cells_key(content: bytes) -> str | None:
    """The notebook's cells (type and source) as one hash; None when it is not a notebook."""
    cells = _cells(content)
    return None if cells is None else hashlib.sha256(repr(cells).encode()).hexdigest()


def blank_notebooks(files: dict[str, bytes], released: dict[str, bytes]) -> list[str]:
    """What is blank among the notebooks handed in (``files``, by name), in words."""
    released_bytes = set(released.values())
    released_cells = {cells_key(content) for content in released.values()} - {None}
    problems = []
    for name, content in sorted(files.items()):
        if not name.endswith(".ipynb"):
            continue
        cells = _cells(content)
        if content in released_bytes or (cells is not None and cells_key(content)
                                         in released_cells):
            problems.append(f"{name} is the release, unchanged: it earns no points")
        elif cells == []:
            problems.append(f"{name} has no cells: it earns no points")
        elif cells is not None and not any(source.strip() for _type, source in cells):
            problems.append(f"{name} has only empty cells: it earns no points")
    return problems


def why_nothing(ws: Workspace, student_id: str, assignment_id: str) -> list[str]:
    """Why the graded submission of ``student_id`` earned 0 points, in words for the student:
    a notebook that did not run to the end (the grading report's error), blank notebooks, or
    else that no test passed."""
    from autograder.results import REPORT_SUFFIX, GradingReport

    graded = ws.root / "autograded" / student_id / assignment_id
    reasons = []
    for path in sorted(graded.glob(f"*{REPORT_SUFFIX}")):
        report = GradingReport.read(graded, path.name.removesuffix(REPORT_SUFFIX))
        if report is not None and report.notebook_error:
            reasons.append(f"{report.notebook}.ipynb did not run to the end: "
                           f"{report.notebook_error}")
    handed_in = notebooks_in(ws.root / "submitted" / student_id / assignment_id)
    reasons += blank_notebooks(handed_in, released_notebooks(ws, assignment_id))
    return reasons or ["no test passed"]

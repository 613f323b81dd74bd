"""Notebook helpers shared by every stage: is this file a notebook we can grade, the reference
code of solution cells, and a notebook with some cells' code replaced."""

from __future__ import annotations

import nbformat
from nbformat.reader import NotJSONError

__all__ = ["MARKER_LINES", "notebook_problem", "solution_cells", "solution_code", "with_cells"]

MARKER_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")


def notebook_problem(name: str, content: bytes) -> str | None:
    """Why ``content`` is not a readable notebook, in one line naming ``name``, or None."""
    invalid: dict = {}
    try:  # parsed once, validated once (``reads`` validates; it reports, not raises, a failure)
        nbformat.reads(content.decode("utf-8"), as_version=4, capture_validation_error=invalid)
        if invalid:
            raise invalid["ValidationError"]
    except (UnicodeDecodeError, NotJSONError):
        return f"{name} is not valid JSON (a damaged or non-notebook file)"
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{name} is not a valid notebook ({first[:200]})"
    return None


def solution_code(cell) -> str:
    """A solution cell's reference code, the nbgrader markers removed."""
    return "\n".join(line for line in cell.source.splitlines()
                     if line.strip() not in MARKER_LINES)


def solution_cells(source_nb) -> dict[str, str]:
    """The reference code of each solution cell of a source notebook, by grade id."""
    return {cell.metadata["nbgrader"]["grade_id"]: solution_code(cell)
            for cell in source_nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def with_cells(nb, answers: dict[str, str]):
    """A copy of ``nb`` whose code cells named in ``answers`` (by grade id) hold that code."""
    out = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in out.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in answers:
            cell.source = answers[grade_id]
    return out

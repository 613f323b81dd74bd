"""Notebook helpers shared by every stage: is this file a notebook we can grade, the reference
code of solution cells, and a notebook with some cells' code replaced."""

from __future__ import annotations

import json

import nbformat
from nbformat.reader import NotJSONError

__all__ = ["MARKER_LINES", "notebook_problem", "solution_cells", "solution_code", "with_cells"]

MARKER_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")


def notebook_problem(name: str, content: bytes) -> str | None:
    """Why ``content`` is not a readable notebook, in one line naming ``name``, or None."""
    try:
        text = content.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return f"{name} is not valid JSON (a damaged or non-notebook file)"
    try:
        if _plain_v4(document):  # every notebook of today: validated as it is, parsed once
            _strip_transient(document)
            nbformat.validate(document)
        else:  # older formats, and shapes only nbformat's reader words well
            invalid: dict = {}
            nbformat.reads(text, as_version=4, capture_validation_error=invalid)
            if invalid:
                raise invalid["ValidationError"]
    except NotJSONError:
        return f"{name} is not valid JSON (a damaged or non-notebook file)"
    except Exception as exc:  # noqa: BLE001 - nbformat's converters of old formats raise
        # anything on a crafted file (UnboundLocalError from format 2): the file is invalid
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{name} is not a valid notebook ({first[:200]})"
    return None


def _plain_v4(document) -> bool:
    """A format 4 notebook (of a minor version nbformat knows) whose metadata and cells have
    the shapes its reader expects: it can be validated as parsed, without building the
    ``NotebookNode`` tree ``nbformat.reads`` builds (two thirds of the check's time), with the
    same verdict."""
    if not isinstance(document, dict) or document.get("nbformat") != 4:
        return False
    minor, cells = document.get("nbformat_minor"), document.get("cells")
    return (type(minor) is int and 0 <= minor <= nbformat.current_nbformat_minor
            and isinstance(document.get("metadata"), dict) and isinstance(cells, list)
            and all(isinstance(cell, dict) and isinstance(cell.get("metadata"), dict)
                    for cell in cells))


def _strip_transient(document: dict) -> None:
    """What ``nbformat.reads`` removes before it validates (values never stored in files)."""
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        document["metadata"].pop(key, None)
    for cell in document["cells"]:
        cell["metadata"].pop("trusted", None)


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

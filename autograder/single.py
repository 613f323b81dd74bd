"""Grade one notebook file without a gradebook: ``course grade-file`` and other tools.

The submitted notebook is sanitized the way nbgrader's autograde does it (outputs cleared, test
and read-only cells restored from the instructor's source notebook), then graded by the engine.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .engine import GradingOptions, grade_notebook
from .nbgrader_bridge import cell_score, grader_cell_score
from .notebooks import notebook_problem

__all__ = ["NotebookError", "grade_file", "restore_from_source"]


class NotebookError(ValueError):
    """The file is not a notebook we can grade."""


MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def read_notebook(path: Path):
    if path.is_file() and path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path}: {path.stat().st_size / 1e6:.0f} MB is larger than a "
                            f"notebook may be ({MAX_NOTEBOOK_BYTES / 1e6:.0f} MB)")
    try:
        content = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise NotebookError(f"{path}: no such file") from None
    problem = notebook_problem(str(path), content)
    if problem:
        raise NotebookError(problem)
    return nbformat.reads(content.decode("utf-8"), as_version=4)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def restore_from_source(submitted, source):
    """What nbgrader's ClearOutput + OverwriteCells do, with the source notebook in place of
    the gradebook: graded and read-only cells come back exactly as the instructor wrote them,
    whatever the student edited (points, grade ids, source, cell type)."""
    originals = {_meta(c)["grade_id"]: c for c in source.cells
                 if _meta(c).get("grade_id") and (_meta(c).get("grade") or _meta(c).get("locked"))}
    for cell in submitted.cells:
        original = originals.get(_meta(cell).get("grade_id"))
        if original is not None:
            cell.source, cell.cell_type = original.source, original.cell_type
            cell.metadata["nbgrader"] = dict(_meta(original))
        elif _meta(cell).get("grade"):  # a grade cell the source does not have: not graded
            cell.metadata["nbgrader"] = {**_meta(cell), "grade": False, "points": 0}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return submitted


def grade_file(source_dir: Path, path: Path, options: GradingOptions) -> dict:
    """The JSON ``course grade-file`` prints: score, max_score, one entry per test."""
    submitted = read_notebook(path)
    sources = sorted(source_dir.glob("*.ipynb"))
    source_path = source_dir / path.name if (source_dir / path.name).exists() else (
        sources[0] if len(sources) == 1 else None)
    if source_path is None:
        raise NotebookError(f"{path.name}: no notebook of that name in {source_dir}")
    source = read_notebook(source_path)
    nb = restore_from_source(submitted, source)
    graders, data = source_dir / "graders", source_dir / "data"
    result = grade_notebook(nb, graders=graders if graders.is_dir() else None,
                            data_dir=data if data.is_dir() else None, options=options)
    tests = [{"name": t.name, "grade_id": t.grade_id, "points": t.points,
              "max_points": t.max_points, "outcome": t.outcome, "message": t.message}
             for t in result.tests]
    score = max_score = 0.0
    for cell in source.cells:  # the points as the instructor set them
        meta = _meta(cell)
        if not meta.get("grade"):
            continue
        points = float(meta.get("points", 0) or 0)
        max_score += points
        earned = cell_score(cell, result)
        if grader_cell_score(cell, result) is None:  # a legacy nbgrader test cell
            passed = result.legacy_cells.get(meta["grade_id"], False)
            tests.append({"name": meta["grade_id"], "grade_id": meta["grade_id"],
                          "points": earned, "max_points": points,
                          "outcome": "passed" if passed else "failed",
                          "message": "" if passed else "the test cell raised an error"})
        score += earned
    return {"score": score, "max_score": max_score, "tests": tests,
            "notebook_error": result.notebook_error, "problems": result.problems,
            "isolation": result.isolation, "seconds": round(result.seconds, 3)}

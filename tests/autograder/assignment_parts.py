"""One shipped assignment's parts for its own tests: the reference notebook, a mutant or a
correct alternative put into it, grading with its hidden graders, and the check that every
mutant is drawn from a named class of wrong answers (issue 24)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from small_courses import REPO

from autograder.check_graders import _versions
from autograder.engine import grade_notebook
from autograder.notebooks import with_cells

# the shipped assignments that have hidden graders (every one, today)
SHIPPED = sorted(p.name for p in (REPO / "assignments").iterdir() if (p / "graders").is_dir())


class AssignmentParts:
    def __init__(self, folder: Path, notebook: str):
        self.folder = folder
        self.reference = _versions(nbformat.read(folder / notebook, as_version=4))[0]
        self.alternatives = sorted((folder / "alternatives").glob("*.json"))

    def answer(self, folder: str, name: str):
        """The reference with the cells of ``<folder>/<name>.json`` put in."""
        cells = json.loads((self.folder / folder / f"{name}.json").read_text())["cells"]
        return with_cells(self.reference, cells)

    def grade(self, nb):
        result = grade_notebook(nb, graders=self.folder / "graders")
        assert result.notebook_error is None, result.notebook_error
        return result

    def check_mutant_classes(self, classes: dict[str, list[str]], *, alternatives: int) -> None:
        """Every mutant is in one of ``classes`` and names what it must lose; at least 8
        mutants and ``alternatives`` correct alternatives."""
        mutants = {p.stem: json.loads(p.read_text())
                   for p in (self.folder / "mutants").glob("*.json")}
        assert len(mutants) >= 8
        assert {name for names in classes.values() for name in names} == set(mutants)
        for name, spec in mutants.items():
            assert spec["description"] and spec["cells"] and spec["must_fail"], name
        assert len(self.alternatives) >= alternatives


def shipped_mutant(check: dict, assignment: str, name: str) -> dict:
    """One mutant's part of the session's check-graders report (``shipped_check`` in this
    folder's conftest.py): ``failed`` maps each grader test it did not pass to its message."""
    (found,) = [m for m in check["by_id"][assignment]["mutants"] if m["name"] == name]
    return found

"""``course check-graders``: are an assignment's hidden graders worth anything?

For each assignment: the reference solution must score 100 %; the student version as released
must score nothing; every mutant (a plausible mistake in ``mutants/*.json``) must lose points in
the test cells it names; every correct alternative (an unusual but right answer in
``alternatives/*.json``, staff-only like the mutants) must keep full marks; grading the reference
twice must give identical scores. Wall time per
submission is reported, and assignments are checked in parallel processes, each under its own
grading options (``course check-graders`` resolves them per assignment).

Two checks keep the notebook honest with its students: every mutant must also fail one of the
notebook's visible test cells (a student can see the mistake before the deadline), unless its file
says why only hidden graders may see it (``"hidden_only": "<why>"``); and the graders tied to a
test cell must carry exactly that cell's points, so the per-test points in the feedback add up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from .engine import GradingOptions, GradingResult, grade_notebook
from .notebooks import MARKER_LINES, solution_code, with_cells
from .results import split_problems

__all__ = ["MARKER_LINES", "AssignmentCheck", "check_assignment", "check_assignments"]

DEFAULT_OPTIONS = GradingOptions()  # the platform defaults (autograder.settings)


@dataclass
class MutantCheck:
    name: str
    score: float
    caught: bool
    missed: list[str] = field(default_factory=list)  # named cells that did not lose points
    # a visible test cell raised: the student could see the mistake before handing in
    seen_by_visible_tests: bool = True
    hidden_only: str | None = None  # why only the hidden graders may see it (the mutant's file)
    # what a student with this mistake reads: each grader test that did not pass, its message
    failed: dict[str, str] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)  # the grader tests it passes all the same
    notebook_error: str | None = None  # the notebook did not run to its end


@dataclass
class AlternativeCheck:
    name: str
    score: float
    full_marks: bool
    lost: list[str] = field(default_factory=list)  # cells that lost points


@dataclass
class AssignmentCheck:
    id: str
    reference_score: float
    max_score: float
    release_score: float
    mutants: list[MutantCheck]
    deterministic: bool
    seconds: float  # wall time of one submission graded as in grading (the reference's)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alternatives: list[AlternativeCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.reference_score == self.max_score > 0 and self.release_score == 0
                and all(m.caught for m in self.mutants)
                and all(a.full_marks for a in self.alternatives) and self.deterministic
                and not self.problems)

    @property
    def visible_misses(self) -> list[str]:
        """The mutants that pass every visible test cell (only hidden graders catch them)."""
        return [m.name for m in self.mutants if not m.seen_by_visible_tests]

    def to_json(self) -> dict:
        data = asdict(self)  # the mutants and alternatives with every field of theirs
        data["visible_misses"] = self.visible_misses
        data.pop("problems")
        data.pop("warnings")
        return {**data, "ok": self.ok, "problems": self.problems, "warnings": self.warnings}


def _versions(source_nb):
    """(reference, released): the solution filled in, and nbgrader's student version."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    reference = nbformat.reads(nbformat.writes(source_nb), as_version=4)
    for cell in reference.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solution_code(cell)
    released = nbformat.reads(nbformat.writes(source_nb), as_version=4)
    released, _ = ClearSolutions().preprocess(released, {})
    released, _ = ClearHiddenTests().preprocess(released, {})
    return reference, released


def _cell_scores(nb, result: GradingResult) -> dict[str, float]:
    from .nbgrader_bridge import cell_score

    return {cell.metadata["nbgrader"]["grade_id"]: cell_score(cell, result)
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")}


def _visible_failure(nb, result: GradingResult) -> bool:
    """Did one of the notebook's visible test cells raise when the submission ran?"""
    test_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                  and cell.metadata.get("nbgrader", {}).get("grade")]
    return any(result.cells.get(i) is not None and result.cells[i].error for i in test_cells)


def _points_mismatches(nb, result: GradingResult) -> list[str]:
    """Test cells whose graders carry other points than the cell (the feedback would not add
    up); a cell no grader stands for is a legacy nbgrader cell and carries its own."""
    problems = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        tied = [t for t in result.tests if t.grade_id == meta.get("grade_id")]
        carried = sum(t.max_points for t in tied)
        if tied and abs(carried - float(meta.get("points", 0) or 0)) > 1e-9:
            problems.append(f"{meta['grade_id']}: the graders carry {carried:g} points, "
                            f"the notebook's cell {float(meta.get('points', 0) or 0):g}")
    return problems


def check_assignment(folder: Path, options: GradingOptions = DEFAULT_OPTIONS) -> AssignmentCheck:
    folder = Path(folder)
    notebooks = sorted(folder.glob("*.ipynb"))
    if len(notebooks) != 1:
        return AssignmentCheck(folder.name, 0, 0, 0, [], False, 0.0,
                               [f"expected one notebook in {folder}, found {len(notebooks)}"])
    source = nbformat.read(notebooks[0], as_version=4)
    reference, released = _versions(source)
    graders = folder / "graders"
    data = folder / "data"
    kwargs = {"graders": graders if graders.is_dir() else None,
              "data_dir": data if data.is_dir() else None, "options": options}
    max_score = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in source.cells
                    if c.metadata.get("nbgrader", {}).get("grade"))

    with_tests = {**kwargs, "options": dataclasses.replace(options, run_test_cells=True)}

    def grade(nb, visible_tests=True):
        """Grade ``nb``; with ``visible_tests`` its visible test cells run too, in order."""
        result = grade_notebook(nb, **(with_tests if visible_tests else kwargs))
        return _cell_scores(nb, result), result

    ref_cells, ref_result = grade(reference)
    # graded again as in real grading (test cells skipped): the same scores also show that
    # running the visible tests first changes nothing the graders see
    again_cells, again_result = grade(reference, visible_tests=False)
    release_cells, _ = grade(released, visible_tests=False)
    warnings, problems = split_problems(ref_result)
    if ref_result.notebook_error:
        problems.append(f"reference: {ref_result.notebook_error}")
    failed = [t.name + (f": {t.message}" if t.message else "")
              for t in ref_result.tests if t.outcome != "passed"]
    problems += [f"reference fails {name}" for name in failed]
    problems += _points_mismatches(reference, ref_result)
    raised = sorted(i for i, cell in ref_result.cells.items() if cell.error)
    if raised:  # a visible test, a plot or any given cell: the reference must run clean
        problems.append(f"reference: cell(s) {', '.join(map(str, raised))} raised when run "
                        "with the visible tests")
    mutants = []
    for path in sorted((folder / "mutants").glob("*.json")):
        spec = json.loads(path.read_text())
        mutant = with_cells(reference, spec["cells"])
        cells, result = grade(mutant)
        missed = [cell for cell in spec.get("must_fail", [])
                  if cells.get(cell, 0) >= ref_cells.get(cell, 0)]
        total = sum(cells.values())
        seen = _visible_failure(mutant, result)
        hidden_only = spec.get("hidden_only")
        mutants.append(MutantCheck(
            path.stem, total, not missed and total < max_score, missed, seen, hidden_only,
            {t.name: t.message for t in result.tests if t.outcome != "passed"},
            [t.name for t in result.tests if t.outcome == "passed"], result.notebook_error))
        if not seen and not hidden_only:
            problems.append(f"mutant {path.stem} passes every visible test: add a visible check "
                            "or say in its file why only hidden graders see it (hidden_only)")
    if not mutants:
        problems.append("no mutants: nothing shows the graders tell right from wrong")
    alternatives = []
    for path in sorted((folder / "alternatives").glob("*.json")):
        cells, _ = grade(with_cells(reference, json.loads(path.read_text())["cells"]))
        lost = sorted(cell for cell, points in ref_cells.items() if cells.get(cell, 0) < points)
        alternatives.append(AlternativeCheck(path.stem, sum(cells.values()), not lost, lost))
    return AssignmentCheck(
        folder.name, sum(ref_cells.values()), max_score, sum(release_cells.values()), mutants,
        ref_cells == again_cells, again_result.seconds, problems, warnings,
        alternatives)


def check_assignments(folders: list[Path],
                      options: GradingOptions | Sequence[GradingOptions] = DEFAULT_OPTIONS,
                      workers: int = 1) -> list[AssignmentCheck]:
    """Check each folder; ``options`` is one ``GradingOptions`` for all of them, or one per
    folder, in the same order."""
    each = [options] * len(folders) if isinstance(options, GradingOptions) else list(options)
    if len(each) != len(folders):
        raise ValueError(f"{len(each)} grading options for {len(folders)} assignments")
    if workers <= 1 or len(folders) <= 1:
        return [check_assignment(folder, opts) for folder, opts in zip(folders, each)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(check_assignment, folders, each))

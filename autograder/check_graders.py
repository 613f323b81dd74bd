"""``course check-graders``: are an assignment's hidden graders worth anything?

For each assignment: the reference solution must score 100 %; the student version as released
must score nothing; every mutant (a plausible mistake in ``mutants/*.json``) must lose points in
the test cells it names; every correct alternative (an unusual but right answer in
``alternatives/*.json``, staff-only like the mutants) must keep full marks; grading the reference
twice must give identical scores. Wall time per
submission is reported. Each assignment's check is planned as a list of independent gradings
(``plan_check``), graded one submission at a time by a pool of processes whichever assignment
it belongs to, each under its assignment's grading options (``course check-graders`` resolves
them per assignment), and judged when all of them are in (``CheckPlan.judge``).

Two checks keep the notebook honest with its students: every mutant must also fail one of the
notebook's visible test cells (a student can see the mistake before the deadline), unless its file
says why only hidden graders may see it (``"hidden_only": "<why>"``); and the graders tied to a
test cell must carry exactly that cell's points, so the per-test points in the feedback add up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from .engine import GradingOptions, GradingResult, grade_notebook
from .notebooks import MARKER_LINES, solution_code, with_cells
from .results import split_problems

__all__ = ["MARKER_LINES", "AssignmentCheck", "CheckPlan", "Grading", "check_assignment",
           "check_assignments", "plan_check"]

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


@dataclass
class Grading:
    """One submission of a check, graded on its own (so a pool can grade any of them)."""
    notebook: nbformat.NotebookNode
    graders: Path | None
    data_dir: Path | None
    options: GradingOptions
    visible_tests: bool = True  # the notebook's visible test cells run too, in order


def grade(job: Grading) -> GradingResult:
    options = (dataclasses.replace(job.options, run_test_cells=True) if job.visible_tests
               else job.options)
    return grade_notebook(job.notebook, graders=job.graders, data_dir=job.data_dir,
                          options=options)


@dataclass
class CheckPlan:
    """What checking one assignment grades, in order: the reference with its visible tests,
    the reference again as in real grading, the release, each mutant, each alternative;
    ``judge`` turns their results into the assignment's check."""
    folder: Path
    max_score: float
    gradings: list[Grading]
    mutants: list[tuple[str, dict]]  # (name, its file)
    alternatives: list[str]
    broken: AssignmentCheck | None = None  # refused before grading anything

    def judge(self, results: Sequence[GradingResult]) -> AssignmentCheck:
        if self.broken is not None:
            return self.broken
        graded = list(zip(self.gradings, results, strict=True))
        (ref_job, ref_result), (_, again_result), (released, release_result), *rest = graded
        mutants_graded, alternatives_graded = rest[:len(self.mutants)], rest[len(self.mutants):]
        reference, max_score = ref_job.notebook, self.max_score
        ref_cells = _cell_scores(reference, ref_result)
        # graded again as in real grading (test cells skipped): the same scores also show
        # that running the visible tests first changes nothing the graders see
        again_cells = _cell_scores(reference, again_result)
        release_cells = _cell_scores(released.notebook, release_result)
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
        for (name, spec), (job, result) in zip(self.mutants, mutants_graded, strict=True):
            cells = _cell_scores(job.notebook, result)
            missed = [cell for cell in spec.get("must_fail", [])
                      if cells.get(cell, 0) >= ref_cells.get(cell, 0)]
            total = sum(cells.values())
            seen = _visible_failure(job.notebook, result)
            hidden_only = spec.get("hidden_only")
            mutants.append(MutantCheck(
                name, total, not missed and total < max_score, missed, seen, hidden_only,
                {t.name: t.message for t in result.tests if t.outcome != "passed"},
                [t.name for t in result.tests if t.outcome == "passed"], result.notebook_error))
            if not seen and not hidden_only:
                problems.append(f"mutant {name} passes every visible test: add a visible check "
                                "or say in its file why only hidden graders see it (hidden_only)")
        if not mutants:
            problems.append("no mutants: nothing shows the graders tell right from wrong")
        alternatives = []
        for name, (job, result) in zip(self.alternatives, alternatives_graded, strict=True):
            cells = _cell_scores(job.notebook, result)
            lost = sorted(cell for cell, points in ref_cells.items() if cells.get(cell, 0) < points)
            alternatives.append(AlternativeCheck(name, sum(cells.values()), not lost, lost))
        return AssignmentCheck(
            self.folder.name, sum(ref_cells.values()), max_score, sum(release_cells.values()),
            mutants, ref_cells == again_cells, again_result.seconds, problems, warnings,
            alternatives)


def plan_check(folder: Path, options: GradingOptions = DEFAULT_OPTIONS) -> CheckPlan:
    folder = Path(folder)
    notebooks = sorted(folder.glob("*.ipynb"))
    if len(notebooks) != 1:
        broken = AssignmentCheck(folder.name, 0, 0, 0, [], False, 0.0,
                                 [f"expected one notebook in {folder}, found {len(notebooks)}"])
        return CheckPlan(folder, 0, [], [], [], broken)
    source = nbformat.read(notebooks[0], as_version=4)
    reference, released = _versions(source)
    graders, data = folder / "graders", folder / "data"
    given = (graders if graders.is_dir() else None, data if data.is_dir() else None, options)
    max_score = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in source.cells
                    if c.metadata.get("nbgrader", {}).get("grade"))
    mutants = [(path.stem, json.loads(path.read_text()))
               for path in sorted((folder / "mutants").glob("*.json"))]
    alternatives = sorted((folder / "alternatives").glob("*.json"))
    gradings = [Grading(reference, *given), Grading(reference, *given, visible_tests=False),
                Grading(released, *given, visible_tests=False),
                *(Grading(with_cells(reference, spec["cells"]), *given) for _, spec in mutants),
                *(Grading(with_cells(reference, json.loads(path.read_text())["cells"]), *given)
                  for path in alternatives)]
    return CheckPlan(folder, max_score, gradings, mutants,
                     [path.stem for path in alternatives])


def check_assignment(folder: Path, options: GradingOptions = DEFAULT_OPTIONS) -> AssignmentCheck:
    plan = plan_check(folder, options)
    return plan.judge([grade(job) for job in plan.gradings])


def check_assignments(folders: list[Path],
                      options: GradingOptions | Sequence[GradingOptions] = DEFAULT_OPTIONS,
                      workers: int = 1,
                      progress: Callable[[int, int], None] | None = None) -> list[AssignmentCheck]:
    """Check each folder; ``options`` is one ``GradingOptions`` for all of them, or one per
    folder, in the same order. With several ``workers`` the pool grades single submissions,
    whichever assignment they belong to, so one long assignment does not leave a worker idle
    at the end; ``progress(done, total)`` is called before the first and after each."""
    each = [options] * len(folders) if isinstance(options, GradingOptions) else list(options)
    if len(each) != len(folders):
        raise ValueError(f"{len(each)} grading options for {len(folders)} assignments")
    plans = [plan_check(folder, opts) for folder, opts in zip(folders, each)]
    jobs = [job for plan in plans for job in plan.gradings]
    progress = progress or (lambda done, total: None)
    progress(0, len(jobs))
    results: list[GradingResult | None] = [None] * len(jobs)
    for done, (index, result) in enumerate(_graded(jobs, workers), start=1):
        results[index] = result
        progress(done, len(jobs))
    checks, start = [], 0
    for plan in plans:
        checks.append(plan.judge(results[start:start + len(plan.gradings)]))
        start += len(plan.gradings)
    return checks


def _graded(jobs: list[Grading], workers: int) -> Iterator[tuple[int, GradingResult]]:
    """(index, result) of each job as it is done: in this process, or in a pool."""
    if workers <= 1:
        yield from ((i, grade(job)) for i, job in enumerate(jobs))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(grade, job): i for i, job in enumerate(jobs)}
        yield from ((futures[future], future.result()) for future in as_completed(futures))

"""nbgrader's seam: ``SandboxedGrading`` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors``. nbgrader's sanitizing preprocessors (ClearOutput,
OverwriteCells, CheckCellMetadata, ...) still run first, and SaveAutoGrades after it reads the
scores from the outputs written here, so the gradebook, formgrader, feedback and late penalties
work unchanged.

Output written per cell:
- a cell the notebook ran: what it printed, displayed or raised (for the feedback);
- a test cell a hidden grader stands for: one line per test (name, points, message) and the
  cell's score as an ``execute_result``, which nbgrader reads as partial credit. The graders'
  source never appears.

Beside the autograded notebook, a ``GradingReport`` (``<notebook>.grading.json``, see
``autograder.results``) says what the grading came to: warnings, problems, errors, each test's
score. ``course grade`` reads it; nbgrader's log is for people.
"""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Dict, Float, Int, Unicode

from .engine import GradingOptions, GradingResult, grade_notebook
from .results import GradingReport
from .settings import GradingSettings, sandbox_settings, setting_type

__all__ = ["SandboxedGrading", "cell_outputs", "cell_score", "grader_cell_score"]


def _cell_points(cell) -> float:
    return float(cell.metadata.get("nbgrader", {}).get("points", 0) or 0)


def test_lines(tests) -> str:
    lines = []
    for test in tests:
        mark = "PASSED" if test.outcome == "passed" else "FAILED"
        line = f"{mark} {test.name} ({test.points:g}/{test.max_points:g})"
        lines.append(line + (f": {test.message}" if test.message else ""))
    return "\n".join(lines) + "\n"


def grader_cell_score(cell, result: GradingResult) -> float | None:
    """A test cell's score from the graders that stand for it (their share of its points),
    or None when no grader does."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    tests = [t for t in result.tests if grade_id and t.grade_id == grade_id]
    if not tests:
        return None
    earned, possible = sum(t.points for t in tests), sum(t.max_points for t in tests)
    return _cell_points(cell) * earned / possible if possible else 0.0


def cell_score(cell, result: GradingResult) -> float:
    """A graded cell's points: its graders' share, else (a plain nbgrader test cell that no
    grader stands for) all of them when it ran without error, none otherwise."""
    earned = grader_cell_score(cell, result)
    if earned is not None:
        return earned
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return _cell_points(cell) if result.legacy_cells.get(grade_id) else 0.0


def cell_outputs(cell, result: GradingResult, index: int) -> list:
    """nbformat outputs for one code cell after grading."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    tests = [t for t in result.tests if grade_id and t.grade_id == grade_id]
    if tests:
        score = grader_cell_score(cell, result)
        return [new_output("stream", name="stdout", text=test_lines(tests)),
                new_output("execute_result", data={"text/plain": f"{score:g}"},
                           execution_count=None)]
    ran = result.cells.get(index)
    if ran is None:
        if cell.metadata.get("nbgrader", {}).get("grade") and result.notebook_error:
            return [new_output("error", ename="NotGraded", evalue=result.notebook_error,
                               traceback=[])]
        return []
    outputs = []
    if ran.stdout:
        outputs.append(new_output("stream", name="stdout", text=ran.stdout))
    if ran.stderr:
        outputs.append(new_output("stream", name="stderr", text=ran.stderr))
    for display in ran.displays[:20]:
        data = {k: str(v) for k, v in display.items() if k in ("text/plain", "image/png")}
        if data:
            outputs.append(new_output("display_data", data=data))
    if ran.error:
        outputs.append(new_output("error", ename=str(ran.error.get("ename", "Error"))[:200],
                                  evalue=str(ran.error.get("evalue", ""))[:2000], traceback=[]))
    return outputs


_TRAITS = {float: Float, int: Int, str: Unicode, bool: Bool}


def _setting_traits() -> dict:
    """A configurable trait per grading setting that decides how a notebook is graded
    (``autograder.settings.sandbox_settings``): its type, default and help from there."""
    return {setting.name: _TRAITS[setting_type(setting)](
                setting.default, help=setting.metadata["help"]).tag(config=True)
            for setting in sandbox_settings()}


# the settings' traits, built from GradingSettings: SandboxedGrading's config takes them
_SettingTraits = type(NbGraderPreprocessor)("_SettingTraits", (NbGraderPreprocessor,),
                                            {"__module__": __name__, **_setting_traits()})


class SandboxedGrading(_SettingTraits):
    """Grades with hidden pytest graders against the notebook run in the sandbox; the grading
    settings' traits (``notebook_timeout``, ``memory_mb``, ...) come from ``_SettingTraits``."""

    source_root = Unicode("", help="folder holding <assignment>/graders and <assignment>/data"
                          ).tag(config=True)
    gpu_devices = Unicode("", help="comma-separated CUDA device ids (UUIDs) for the sandbox"
                          ).tag(config=True)
    gpu_nodes = Unicode("", help="comma-separated minors N of the /dev/nvidiaN bound into the "
                        "sandbox").tag(config=True)
    assignment_settings = Dict(help="per assignment id, its own limits ({setting: value}, the "
                               "course file's resolved grading settings), which replace the "
                               "ones above for its notebooks: however autograde is started "
                               "(course grade, the formgrader), an assignment gets its limits"
                               ).tag(config=True)

    def options(self, assignment: str | None = None) -> GradingOptions:
        values = {setting.name: getattr(self, setting.name) for setting in sandbox_settings()}
        values.update(self.assignment_settings.get(assignment, {}))
        settings = GradingSettings(**values)
        return GradingOptions.of(settings, tuple(d for d in self.gpu_devices.split(",") if d),
                                 tuple(n for n in self.gpu_nodes.split(",") if n))

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        folder = Path(self.source_root) / assignment
        graders = folder / "graders"
        data = folder / "data"
        result = grade_notebook(nb, graders=graders if graders.is_dir() else None,
                                data_dir=data if data.is_dir() else None,
                                options=self.options(assignment))
        for problem in result.problems:
            self.log.warning("%s: %s", assignment, problem)
        if result.notebook_error:
            self.log.warning("%s: %s", assignment, result.notebook_error)
        count = 0
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            count += 1
            cell.outputs = cell_outputs(cell, result, index)
            cell.execution_count = count
        # nbconvert's from_filename: the folder nbgrader reads the notebook from and writes the
        # autograded one back into (autograded/<student>/<assignment>/)
        autograded = resources.get("metadata", {}).get("path")
        if autograded is not None:
            report = GradingReport.from_result(resources["nbgrader"]["notebook"], result)
            report.write(Path(autograded or "."))
        return nb, resources

"""What grading one notebook came to, as a typed record that crosses from nbgrader's autograde
(``autograder.nbgrader_bridge`` writes it) to ``course grade`` (which reads it), instead of
lines of nbgrader's log.

The report lies beside the autograded notebook as ``<notebook>.grading.json``, in nbgrader's
staff-only ``autograded/`` folder; the course's nbgrader configuration ignores the name, so it is
neither copied from a submission into ``autograded/`` nor from there into ``feedback/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine (and numpy) only where a result is turned into a report
    from .engine import GradingResult

__all__ = ["REPORT_SUFFIX", "GradingReport", "TestScore", "split_problems"]

REPORT_SUFFIX = ".grading.json"
FORMAT = 1


def split_problems(result: GradingResult) -> tuple[list[str], list[str]]:
    """(warnings, problems) of an engine result. The warning is the notice that test cells no
    grader stands for are not tamper-proof: the engine adds it last, when and only when such
    cells (``legacy_cells``) exist."""
    if result.legacy_cells and result.problems:
        return [result.problems[-1]], list(result.problems[:-1])
    return [], list(result.problems)


@dataclass(frozen=True)
class TestScore:
    name: str
    grade_id: str | None
    points: float
    max_points: float
    outcome: str  # passed | failed | error
    # for the feedback pages (course.nbgrader_steps.ShowFeedbackLevels): what it raised (first
    # line), where (autograder.feedback_text.safe_traceback), and its own level, if any
    message: str = ""
    traceback: str = ""
    feedback: str | None = None


@dataclass(frozen=True)
class GradingReport:
    notebook: str  # its name without .ipynb, as nbgrader names it
    tests: tuple[TestScore, ...] = ()
    warnings: tuple[str, ...] = ()  # the grading holds, with a caveat (not tamper-proof cells)
    problems: tuple[str, ...] = ()  # what went wrong in the graders' run (a grader not loading)
    notebook_error: str | None = None  # the student's notebook could not run (timeout, crash)
    grading_error: str | None = None  # the platform could not grade: the scores mean nothing
    isolation: str | None = None  # the sandbox it ran in
    legacy_cells: dict[str, bool] = field(default_factory=dict)  # grade_id -> passed

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @classmethod
    def from_result(cls, notebook: str, result: GradingResult) -> GradingReport:
        warnings, problems = split_problems(result)
        # the sandbox never started, or the graders' run left no results: the engine failed
        # closed (every score 0) on the platform's side, not because of the student's work
        failed = result.isolation is None
        error = (result.notebook_error or "grading failed") if failed else None
        return cls(notebook,
                   tuple(TestScore(t.name, t.grade_id, t.points, t.max_points, t.outcome,
                                   t.message, t.traceback, t.feedback)
                         for t in result.tests),
                   tuple(warnings), tuple(problems),
                   None if failed else result.notebook_error, error, result.isolation,
                   dict(result.legacy_cells))

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self), "score": self.score}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> GradingReport:
        """The report in ``text``; ValueError when it is not one this version wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a grading report of this version")
        try:
            report = cls(str(data["notebook"]), tuple(TestScore(**t) for t in data["tests"]),
                         tuple(data["warnings"]), tuple(data["problems"]),
                         data["notebook_error"], data["grading_error"], data["isolation"],
                         dict(data["legacy_cells"]))
        except (TypeError, KeyError) as exc:
            raise ValueError(f"not a grading report: {exc!r}") from None
        texts = [*report.warnings, *report.problems]
        optional = [report.notebook_error, report.grading_error, report.isolation]
        if not all(isinstance(s, str) for s in texts + [s for s in optional if s is not None]):
            raise ValueError("not a grading report: its messages must be strings")
        return report

    @staticmethod
    def path(folder: Path, notebook: str) -> Path:
        return Path(folder) / f"{notebook}{REPORT_SUFFIX}"

    def write(self, folder: Path) -> Path:
        """Write the report beside the notebook in ``folder``, in one rename."""
        target = self.path(folder, self.notebook)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(self.to_json(), encoding="utf-8")
        os.replace(partial, target)
        return target

    @classmethod
    def read(cls, folder: Path, notebook: str) -> GradingReport | None:
        """The report on ``notebook`` in ``folder``; None when none was written (or it is not
        one)."""
        try:
            return cls.from_json(cls.path(folder, notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    @classmethod
    def read_all(cls, folder: Path) -> list[GradingReport]:
        """Every report in ``folder`` (one per graded notebook), by notebook name; those that
        are not one are left out, and a missing folder has none."""
        folder = Path(folder)
        if not folder.is_dir():
            return []
        stems = sorted(p.name.removesuffix(REPORT_SUFFIX) for p in folder.glob(f"*{REPORT_SUFFIX}"))
        return [report for stem in stems if (report := cls.read(folder, stem)) is not None]

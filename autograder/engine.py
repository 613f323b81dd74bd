"""Grade one notebook: hidden pytest graders in a trusted process, the notebook in the sandbox.

``grade_notebook`` is the whole engine: nbgrader's autograde (``autograder.nbgrader_bridge``),
``course grade-file`` and ``course check-graders`` all call it. The scores are decided here from
the graders' results; nothing the student's process says is taken as a score, except for
legacy nbgrader test cells (no grader stands for them), which pass when they ran without error,
exactly as nbgrader judges them, and are reported as not tamper-proof.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .client import Timeouts
from .sandbox import IsolationUnavailable, SandboxLimits, require_isolation
from .settings import GradingSettings, cpu_limit, run_limit

__all__ = [
    "NOT_GRADED_TAG",
    "CellResult",
    "GradingOptions",
    "GradingResult",
    "TestResult",
    "grade_notebook",
    "notebook_cells",
    "start_warm_server",
]


# a cell for the student's eyes only (a plot, an experiment): grading does not run it, so a
# student function it calls cannot sink the whole notebook, and it costs no grading time
NOT_GRADED_TAG = "not-graded"

INTERRUPT_GRACE = 30.0  # s for an interrupted pytest run to clean up and write its results


@dataclass(frozen=True)
class GradingOptions:
    # the platform defaults (autograder.settings.DEFAULTS, through SandboxLimits and Timeouts)
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    # the whole pytest run, a backstop behind the per-call timeouts; left out, it follows the
    # notebook's limit (autograder.settings.run_limit), so a longer notebook_timeout is not cut
    total_seconds: float | None = None  # None: run_limit(timeouts.notebook), set at creation
    # ``course check-graders`` only: run the visible test cells the graders stand for too (in
    # grading they are skipped), to learn whether a student could have seen a mistake
    run_test_cells: bool = False

    def __post_init__(self):
        if self.total_seconds is None:
            object.__setattr__(self, "total_seconds", run_limit(self.timeouts.notebook))

    @classmethod
    def of(cls, settings: GradingSettings, gpu_devices: tuple[str, ...] = (),
           gpu_nodes: tuple[str, ...] = ()) -> GradingOptions:
        """The options that grading settings give (``workers`` and the rest of where a
        submission is graded are the caller's)."""
        return cls(limits=SandboxLimits(memory_bytes=settings.memory_mb * 2**20,
                                        cpu_seconds=cpu_limit(settings.notebook_timeout),
                                        isolation=settings.isolation,
                                        gpu_devices=tuple(gpu_devices),
                                        gpu_nodes=tuple(gpu_nodes)),
                   timeouts=Timeouts(notebook=settings.notebook_timeout,
                                     call=settings.call_timeout))


@dataclass
class TestResult:
    name: str
    grade_id: str | None
    points: float
    max_points: float
    outcome: str  # passed | failed | error
    message: str
    traceback: str = ""  # where it failed, safe for a student (autograder.feedback_text)
    feedback: str | None = None  # the test's own feedback level (its marker), if any


@dataclass
class CellResult:
    """What the notebook printed, displayed or raised in one cell (for the feedback)."""

    index: int
    stdout: str = ""
    stderr: str = ""
    displays: list[dict] = field(default_factory=list)
    error: dict | None = None


@dataclass
class GradingResult:
    tests: list[TestResult]
    cells: dict[int, CellResult]
    legacy_cells: dict[str, bool]  # grade_id -> passed, for cells no grader stands for
    notebook_error: str | None
    isolation: str | None
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def notebook_cells(nb) -> list[dict]:
    """The code cells of an nbformat notebook, with the nbgrader metadata the engine needs."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        source = "".join(cell.source) if isinstance(cell.source, list) else str(cell.source)
        cells.append({"index": index, "source": source, "grade_id": meta.get("grade_id"),
                      "grade": bool(meta.get("grade")), "points": meta.get("points", 0),
                      "not_graded": NOT_GRADED_TAG in cell.metadata.get("tags", [])})
    return cells


def _score(test: dict) -> TestResult:
    passed = test["outcome"] == "passed"
    return TestResult(test["name"], test["grade_id"], test["max_points"] if passed else 0.0,
                      test["max_points"], test["outcome"], test["message"],
                      str(test.get("traceback") or "") if not passed else "",
                      test.get("feedback"))


def _pytest_args(graders: Path | None, job: Path, results: Path, workdir: Path) -> list[str]:
    return ["-p", "autograder.pytest_plugin", "-p", "no:cacheprovider", "--assert=plain", "-q",
            "--no-header", "-rN", "--tb=line", f"--submission-job={job}",
            f"--grading-results={results}", "--rootdir", str(graders or workdir), "-c", os.devnull,
            str(graders) if graders else str(workdir / "no_graders")]


class _WarmServer:
    """This process's ``autograder.warm`` server, started on first use and kept (its stdin
    closing when this process ends stops it). One run at a time."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        """Start the server unless it runs (it imports while the caller goes on); the caller
        holds the lock or is the only thread."""
        if self.process is None or self.process.poll() is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder.warm"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)

    def run(self, args: list[str], workdir: Path, log: Path, timeout: float) -> int | None:
        request = json.dumps({"args": args, "workdir": str(workdir), "log": str(log),
                              "timeout": timeout, "grace": INTERRUPT_GRACE})
        with self.lock:
            for attempt in (1, 2):  # a server that died (OOM killer) is started again once
                self.start()
                try:
                    self.process.stdin.write(request + "\n")
                    self.process.stdin.flush()
                    reply = self.process.stdout.readline()
                    if reply:
                        return json.loads(reply)["exit"]
                except BrokenPipeError:
                    pass
                except BaseException:
                    # interrupted mid-run (a Celery worker told to stop the job): this run's
                    # reply would be read as the next one's, so this server is done
                    self.process.kill()
                    self.process.wait()
                    raise
                self.process.kill()
                self.process.wait()
        raise RuntimeError("the warm grading process ended without answering")


_warm = _WarmServer()


def start_warm_server() -> None:
    """Start this process's warm grading process now rather than at the first grading: a
    worker calls it when it starts, so the imports overlap its own."""
    with _warm.lock:
        _warm.start()


def _run_pytest(graders: Path | None, job: Path, results: Path, options: GradingOptions,
                workdir: Path) -> tuple[int | None, str]:
    log = workdir / "pytest.log"
    code = _warm.run(_pytest_args(graders, job, results, workdir), workdir, log,
                     options.total_seconds)
    if code is None:
        return None, f"grading took longer than {options.total_seconds:g} s"
    return code, _tail(log)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-4000:]
    except OSError:
        return ""


def grade_notebook(nb, *, graders: Path | None, data_dir: Path | None = None,
                   options: GradingOptions = GradingOptions()) -> GradingResult:
    """Run the hidden graders in ``graders`` against notebook ``nb`` (an nbformat node)."""
    started = time.monotonic()
    graders = Path(graders).resolve() if graders else None
    data_dir = Path(data_dir).resolve() if data_dir else None
    cells = notebook_cells(nb)
    try:  # before anything runs: no student code without the isolation the course asks for
        require_isolation(options.limits.isolation)
    except IsolationUnavailable as exc:
        return GradingResult([], {}, {}, str(exc), None, time.monotonic() - started, [str(exc)])
    with tempfile.TemporaryDirectory(prefix="course-grading-") as tmp:
        workdir = Path(tmp)
        (workdir / "no_graders").mkdir()
        job, results = workdir / "job.json", workdir / "results.json"
        job.write_text(json.dumps({
            "cells": cells, "data_dir": str(data_dir) if data_dir else None,
            "limits": dataclasses.asdict(options.limits),
            "timeouts": dataclasses.asdict(options.timeouts),
            "run_test_cells": options.run_test_cells,
        }))
        code, log = _run_pytest(graders, job, results, options, workdir)
        try:
            raw = json.loads(results.read_text())
        except (OSError, ValueError):
            raw = None
    if raw is None:  # fail closed: every grader-tied cell earns nothing
        reason = log.strip().splitlines()[-1] if log.strip() else f"pytest exited with {code}"
        return GradingResult([], {}, {}, f"grading failed: {reason}", None,
                             time.monotonic() - started, [f"grading failed: {reason}"])
    tests = [_score(t) for t in raw["tests"]]
    cell_results = {}
    for c in raw["cells"]:
        cell_results[int(c["cell"])] = CellResult(
            int(c["cell"]), str(c.get("stdout", "")), str(c.get("stderr", "")),
            list(c.get("displays") or []), c.get("error"))
    tied = {t.grade_id for t in tests if t.grade_id}
    legacy = {}
    for cell in cells:
        if cell["grade"] and cell["grade_id"] not in tied:
            ran = cell_results.get(cell["index"])
            legacy[cell["grade_id"]] = bool(ran and ran.error is None and not ran.stderr)
    problems = [f"grader file failed to load: {err.strip().splitlines()[-1]}"
                for err in raw.get("collect_errors", []) if err.strip()]
    if code is None:  # stopped by the backstop: what had not passed by then earns nothing
        problems.append(f"{log}: tests not finished by then count as failed")
    if legacy:
        problems.append(
            f"{len(legacy)} test cell(s) ({', '.join(sorted(legacy))}) have no hidden grader: "
            "they ran inside the student's process as in nbgrader and are not tamper-proof")
    return GradingResult(tests, cell_results, legacy, raw.get("notebook_error"),
                         raw.get("isolation"), time.monotonic() - started, problems)

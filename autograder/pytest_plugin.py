"""The pytest side of grading: the ``submission`` fixture, the ``points`` and ``cell`` markers,
and a results file the engine reads. Loaded with ``-p autograder.pytest_plugin``.

This runs in the trusted process with the hidden graders. After collection it starts the
student's notebook in the sandbox (without the cells the graders stand for); each test gets the
live process; a process that died inside one test is restarted for the next, so one crash or
endless loop costs only the tests it happened in.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from .client import StudentProcess, Submission, SubmissionUnavailable, Timeouts
from .feedback_text import level_of, safe_traceback
from .sandbox import SandboxLimits

MAX_RESTARTS = 3


def pytest_addoption(parser):
    group = parser.getgroup("autograder")
    group.addoption("--submission-job", help="job file written by autograder.engine")
    group.addoption("--grading-results", help="where to write the results (JSON)")


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): points this test is worth (default 1)")
    config.addinivalue_line("markers", "cell(grade_id): the nbgrader autograded cell it grades")
    config.addinivalue_line("markers", "feedback(level): what a student sees of it when it fails "
                            "(nothing, name, message, traceback), in place of the assignment's")
    job = config.getoption("--submission-job", default=None)
    if job:
        config.pluginmanager.register(GradingSession(config, json.loads(Path(job).read_text())),
                                      "autograder-session")


def test_info(item) -> tuple[str | None, float]:
    cell = item.get_closest_marker("cell")
    points = item.get_closest_marker("points")
    grade_id = cell.args[0] if cell and cell.args else None
    return grade_id, float(points.args[0]) if points and points.args else 1.0


def feedback_level(item) -> str | None:
    """The test's own feedback level (``@pytest.mark.feedback("name")``), or None: the
    assignment's. An unknown level is ``nothing`` (``feedback_text.level_of``)."""
    marker = item.get_closest_marker("feedback")
    return None if marker is None else level_of(marker.args[0] if marker.args else None)


_NOISE = re.compile(r"^(?:autograder\.client\.|builtins\.)?(?:Student\w*|SubmissionUnavailable): ")


def failure_message(report) -> str:
    """The exception line only: never the grader's source (see --assert=plain in engine)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
    text = text.strip().splitlines()[0] if text.strip() else "failed"
    if "SubmissionUnavailable" in text:
        return "the notebook is unavailable: " + _NOISE.sub("", text)
    if "autograder.client.Student" in text:
        return "the notebook raised " + _NOISE.sub("", text)
    return text[:1000]


class GradingSession:
    def __init__(self, config, job: dict):
        self.config, self.job = config, job
        self.limits = SandboxLimits(**{k: tuple(v) if k in ("gpu_devices", "gpu_nodes") else v
                                       for k, v in job.get("limits", {}).items()})
        self.timeouts = Timeouts(**job.get("timeouts", {}))
        self.process: StudentProcess | None = None
        self.first: StudentProcess | None = None
        self.notebook_error: str | None = None
        self.restarts = 0
        self.tests: dict[str, dict] = {}
        self.tied: set[str] = set()
        self.started = time.monotonic()

    # --- the student's process ------------------------------------------------------------
    def _cells(self) -> list[dict]:
        # cells the graders stand for are not run: they may hold the instructor's test code;
        # nor are the student's-eyes-only cells (autograder.engine.NOT_GRADED_TAG). ``course
        # check-graders`` runs both on its own notebooks (GradingOptions.run_test_cells)
        every = bool(self.job.get("run_test_cells"))
        return [{"index": c["index"], "source": c["source"]} for c in self.job["cells"]
                if every or not (c.get("not_graded")
                                 or (c.get("grade") and c.get("grade_id") in self.tied))]

    def _start(self) -> StudentProcess:
        data = self.job.get("data_dir")
        process = StudentProcess(self._cells(), data_dir=Path(data) if data else None,
                                 limits=self.limits, timeouts=self.timeouts).start()
        try:
            process.wait_ready()
        except SubmissionUnavailable as exc:
            self.notebook_error = str(exc)
        return process

    def submission(self) -> Submission:
        if self.process is None:
            self.process = self.first = self._start()
        elif not self.process.alive and self.notebook_error is None:
            if self.restarts >= MAX_RESTARTS:
                raise SubmissionUnavailable(
                    f"{self.process.dead_reason}; not restarted again after {MAX_RESTARTS} tries")
            self.restarts += 1
            self.process = self._start()
        if self.notebook_error is not None:
            raise SubmissionUnavailable(self.notebook_error)
        return Submission(self.process)

    # --- pytest hooks -----------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            grade_id, points = test_info(item)
            if grade_id:
                self.tied.add(grade_id)
            self.tests[item.nodeid] = {"nodeid": item.nodeid, "name": item.name,
                                       "grade_id": grade_id, "max_points": points,
                                       "outcome": "error", "message": "did not run",
                                       "traceback": "", "feedback": feedback_level(item)}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        self.process = self.first = self._start()  # even with no tests: the cells' outputs

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        entry = self.tests.get(item.nodeid)
        if entry is not None and call.excinfo is not None and call.when != "teardown" \
                and not entry["traceback"]:
            # for the feedback's ``traceback`` level: never the graders' lines (feedback_text)
            try:
                entry["traceback"] = safe_traceback(call.excinfo, item.name,
                                                    self.config.rootpath)
            except Exception:  # noqa: BLE001 - a traceback not shown never costs a score
                entry["traceback"] = ""

    def pytest_runtest_logreport(self, report):
        entry = self.tests.get(report.nodeid)
        if entry is None:
            return
        if report.when == "call" or (report.failed and report.when != "teardown"):
            entry["outcome"] = "passed" if report.passed else (
                "failed" if report.when == "call" else "error")
            entry["message"] = "" if report.passed else failure_message(report)
            if report.skipped:
                entry["outcome"], entry["message"] = "failed", "skipped"

    def pytest_sessionfinish(self, session, exitstatus):
        first = self.first
        results = {
            "tests": list(self.tests.values()),
            "cells": first.cells if first else [],
            "notebook_error": self.notebook_error,
            "isolation": first.launch.isolation if first and first.launch else None,
            "restarts": self.restarts,
            "collect_errors": [str(r.longrepr)[-2000:] for r in
                               session.config.pluginmanager.get_plugin("terminalreporter")
                               .stats.get("error", []) if getattr(r, "when", "") == "collect"]
            if session.config.pluginmanager.get_plugin("terminalreporter") else [],
        }
        for process in {id(p): p for p in (self.first, self.process) if p}.values():
            process.close()
        out = self.config.getoption("--grading-results")
        if out:
            tmp = Path(out).with_suffix(".tmp")
            tmp.write_text(json.dumps(results))
            tmp.replace(out)


@pytest.fixture
def submission(request) -> Submission:
    """The student's notebook, executed in the sandbox; see autograder.client.Submission."""
    session = request.config.pluginmanager.get_plugin("autograder-session")
    if session is None:
        pytest.fail("the submission fixture needs a grading job (run through autograder.engine)")
    return session.submission()

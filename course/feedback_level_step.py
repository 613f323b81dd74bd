"""``ShowFeedbackLevels`` (generate_feedback, before ``HideHiddenTests``): a feedback page shows
each hidden test at its level (``autograder.feedback_text``: the test's own marker, else the
assignment's, ``course.feedback_levels``). The assignment's level is read from the course file
as it is when each page is made (``course.fresh_course``: parsed again only when it changed), so
a formgrader started before a level was lowered applies the lower one at once; a course file
that does not load (an edit half done) shows the least, ``nothing``.

A test cell a hidden grader stands for is written again from the grading report beside the
autograded notebook (``autograder.results.GradingReport``: name, points, message and the safe
traceback of each test), one line per test at its level. A cell whose tests are all at the
default level is left exactly as autograde wrote it: feedback as it was before levels.

A test cell with nbgrader's own hidden-test region (``### BEGIN HIDDEN TESTS``) has no test
names and keeps no traceback (it would quote the hidden lines): at ``message`` and
``traceback`` it keeps its error's name and message (``HideHiddenTests``); at ``name`` a failed
one says only that the cell's tests failed, at ``nothing`` that a test in it failed.

Any line of the rewritten text that quotes a hidden region's line is dropped, as
``HideHiddenTests`` drops them: cells without graders run inside the student's process, so
what that process sends back (its traceback) could quote them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Unicode

from autograder.feedback_text import DEFAULT_LEVEL, level_of, result_line
from autograder.results import GradingReport

from .errors import UnknownId
from .feedback_levels import feedback_rule
from .fresh_course import FreshCourse
from .nbgrader_steps import BEGIN_HIDDEN, END_HIDDEN, _without_quotes, hidden_lines

__all__ = ["NOT_SHOWN", "ShowFeedbackLevels"]

NOT_SHOWN = "hidden tests: their results are not shown"  # no report to write them from
_COURSES: dict[str, FreshCourse] = {}  # per course file, kept between pages


def _is_test_cell(cell) -> bool:
    grading = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(grading.get("grade")) and not grading.get("solution")


def _failed(cell) -> bool:
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


class ShowFeedbackLevels(NbGraderPreprocessor):
    """For feedback: each hidden test at its feedback level (see the module's docstring)."""

    course_root = Unicode("", help="The course folder (nbgrader's course directory), where "
                          "autograded/ holds the grading reports.").tag(config=True)
    course_file = Unicode("", help="The course file, read at each page for the assignment's "
                          "level (course.feedback_levels); unset: levels.").tag(config=True)
    levels = Dict(help="without course_file only: per assignment id, what a student sees of a "
                  "failed hidden test (nothing, name, message, traceback); an assignment left "
                  "out: message").tag(config=True)

    def _level(self, assignment_id: str) -> str:
        if not self.course_file:
            return level_of(self.levels.get(assignment_id, DEFAULT_LEVEL))
        fresh = _COURSES.setdefault(self.course_file, FreshCourse(self.course_file))
        try:
            course = fresh.course()
            return feedback_rule(course, assignment_id).show if course is not None \
                else "nothing"
        except (OSError, UnknownId):  # no course file, an assignment no longer in it
            return "nothing"

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        level = self._level(info["assignment"])
        folder = Path(self.course_root) / "autograded" / info["student"] / info["assignment"]
        report = GradingReport.read(folder, info["notebook"]) if self.course_root else None
        tests = defaultdict(list)
        for test in report.tests if report is not None else ():
            tests[test.grade_id].append(test)
        secret = set().union(*(hidden_lines(c.source) for c in nb.cells
                               if BEGIN_HIDDEN in c.source)) | {BEGIN_HIDDEN, END_HIDDEN}
        for cell in nb.cells:
            if not _is_test_cell(cell):
                continue
            grade_id = cell.metadata["nbgrader"].get("grade_id")
            if tests.get(grade_id):
                self._grader_cell(cell, tests[grade_id], level, secret)
            elif BEGIN_HIDDEN in cell.source and level in ("nothing", "name") and _failed(cell):
                what = "a test in this cell" if level == "nothing" else f"the tests of {grade_id}"
                cell.outputs = [new_output("stream", name="stdout", text=f"FAILED: {what}\n")]
            elif report is None and level in ("nothing", "name") and any(
                    o.get("output_type") == "stream" for o in cell.get("outputs", [])):
                # no report to write the graders' lines from: show none rather than all
                cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream"]
                cell.outputs.insert(0, new_output("stream", name="stdout", text=NOT_SHOWN + "\n"))
        return nb, resources

    @staticmethod
    def _grader_cell(cell, tests, level: str, secret: set[str]) -> None:
        shown = [(test, level_of(test.feedback) if test.feedback else level) for test in tests]
        if all(at == DEFAULT_LEVEL for _test, at in shown):
            return  # exactly as before levels
        text = "\n".join(result_line(test, at) for test, at in shown) + "\n"
        text = _without_quotes(text, secret)
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "stream"]
        cell.outputs = [new_output("stream", name="stdout", text=text), *outputs]

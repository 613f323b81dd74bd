"""A course on disk: the folder holding ``course.yml``, laid out as an nbgrader course directory.

    course.yml
    assignments/<id>/     sources with solutions (nbgrader's source folder), graders/, mutants/
    release/<id>/         student versions (nbgrader generate_assignment)
    exchange/             nbgrader's filesystem exchange, for release and fetch on one machine
    inbox/<id>/<student>/ every submission as received, never overwritten
    submitted/ autograded/ feedback/   nbgrader's folders
    gradebook.db          nbgrader's tables and ours (SQLite unless a URL says otherwise),
                          made by `course init` or `course upgrade` only
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.results import REPORT_SUFFIX

from .coursefile import Course, load_course

if TYPE_CHECKING:
    from traitlets.config import Config

    from .gradebook import Gradebook

__all__ = ["DB_URL_ENV", "STAFF_ONLY_FOLDERS", "Workspace", "nbgrader_reason", "open_workspace"]

DB_URL_ENV = "COURSE_DB_URL"
# Kept next to an assignment's sources but never copied into what students receive.
STAFF_ONLY_FOLDERS = ["graders", "mutants", "alternatives"]
# The grading report beside an autograded notebook (autograder.results) is staff-only too:
# nbgrader neither copies a file of that name from a submission into autograded/ (a student's
# forgery) nor from autograded/ into feedback/.
NBGRADER_IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", *STAFF_ONLY_FOLDERS,
                   f"*{REPORT_SUFFIX}"]


def _resolve_db_url(course: Course, root: Path) -> str:
    """In order: $COURSE_DB_URL, the course file's ``gradebook.url``, gradebook.db beside it."""
    url = os.environ.get(DB_URL_ENV) or course.gradebook.url
    if not url:
        return f"sqlite:///{root / 'gradebook.db'}"
    relative_sqlite = url.startswith("sqlite:///") and not url.startswith("sqlite:////")
    if relative_sqlite and url != "sqlite:///:memory:":
        return f"sqlite:///{root / url.removeprefix('sqlite:///')}"
    return url


@dataclass
class Workspace:
    course: Course
    course_file: Path

    @property
    def root(self) -> Path:
        return self.course_file.parent

    @property
    def db_url(self) -> str:
        return _resolve_db_url(self.course, self.root)

    def folder(self, name: str) -> Path:
        return self.root / name

    @property
    def source(self) -> Path:
        return self.root / "assignments"

    def nbgrader_config(self) -> Config:
        from traitlets.config import Config  # only commands that run nbgrader need it

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.source_directory = "assignments"
        config.CourseDirectory.course_id = self.course.id
        config.CourseDirectory.db_url = self.db_url
        config.CourseDirectory.ignore = NBGRADER_IGNORE
        config.Exchange.root = str(self.root / "exchange")
        # our engine in place of nbgrader's Execute; nbgrader's other steps unchanged
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute

        from autograder.nbgrader_bridge import SandboxedGrading

        steps = Autograde().autograde_preprocessors  # nbgrader's own list, Execute swapped
        config.Autograde.autograde_preprocessors = [
            SandboxedGrading if step is Execute else step for step in steps]
        config.SandboxedGrading.source_root = str(self.source)
        # each assignment's own limits, whoever starts autograde (the formgrader too)
        config.SandboxedGrading.assignment_settings = self.grading_limits()
        # a test cell handed back as released is no "changed checksum" (course.nbgrader_steps)
        from nbgrader.preprocessors import OverwriteCells

        from .nbgrader_steps import HideHiddenTests, RestoreReleasedCells

        config.Autograde.sanitize_preprocessors = [
            RestoreReleasedCells if step is OverwriteCells else step
            for step in Autograde().sanitize_preprocessors]
        # feedback, however it is generated (course feedback, the formgrader, nbgrader
        # generate_feedback): without hidden tests, without test cells' values, with the
        # reasons for 0 points, and loading nothing from other sites (course.nbgrader_steps)
        from nbgrader.converters import GenerateFeedback
        from nbgrader.preprocessors import GetGrades

        from .nbgrader_steps import (
            ExplainZeroPoints,
            FeedbackPage,
            HideTestValues,
            NoteOfflineMaths,
        )

        steps = GenerateFeedback.class_traits()["preprocessors"].default()  # nbgrader's own
        after = steps.index(GetGrades) + 1
        from .feedback_level_step import ShowFeedbackLevels

        # each hidden test at its feedback level, before its hidden regions become one line
        ours = [ShowFeedbackLevels, HideHiddenTests, HideTestValues, ExplainZeroPoints,
                NoteOfflineMaths]
        config.GenerateFeedback.preprocessors = [*steps[:after], *ours, *steps[after:]]
        config.ShowFeedbackLevels.course_root = str(self.root)
        # the level is read from the course file at each page, not baked in here: a
        # long-running formgrader applies a lowered level at once
        config.ShowFeedbackLevels.course_file = str(self.course_file)
        config.ExplainZeroPoints.course_root = str(self.root)
        config.ExplainZeroPoints.course_id = self.course.id
        # the feedback page's exporter only (not the formgrader's grading page): no CDN
        config.GenerateFeedback.exporter_class = FeedbackPage
        return config

    def grading_limits(self) -> dict[str, dict]:
        """Per assignment, the limits SandboxedGrading grades it under
        (``course.settings.resolve_grading``); where and how many at once (``workers``,
        ``backend``, ...) are ``course grade``'s, not nbgrader's."""
        from .settings import DISPATCH_SETTINGS, resolve_grading

        return {assignment.id: {setting.name: setting.value
                                for setting in resolve_grading(self.course, assignment.id)
                                if setting.name not in DISPATCH_SETTINGS}
                for assignment in self.course.assignments}

    def nbgrader_api(self):
        from nbgrader.apps import NbGraderAPI  # heavy import: only for commands that need it
        from nbgrader.coursedir import CourseDirectory
        from sqlalchemy.exc import SAWarning

        # nbgrader 0.9's autoflush patterns warn on SQLAlchemy 2; harmless, and not ours to fix
        warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")

        config = self.nbgrader_config()
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    def gradebook(self) -> Gradebook:
        """Open the gradebook (migrated first if need be; a missing one is refused, as only
        ``course init`` and ``course upgrade`` create it). nbgrader's students and deadlines are
        brought in line with the course file when ``gb.nb`` is first used, if the course file
        changed since they last were; reading our tables never does that."""
        from .gradebook import Gradebook  # SQLAlchemy: not for commands that only read the file

        return Gradebook(self.db_url, self.course.id,
                         on_nbgrader_open=lambda gb: _sync(gb, self.course))

    def sync_gradebook(self, *, force: bool = False) -> int:
        """Write the course file's students and deadlines into nbgrader's tables, where
        generate_assignment, autograde and the formgrader read them, if they changed since the
        last time (``force``: compare row by row anyway). Returns how many rows it wrote."""
        from .gradebook import Gradebook

        with Gradebook(self.db_url, self.course.id) as gb:
            return _sync(gb, self.course, force=force)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    # nbgrader keeps due dates as naive UTC
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _wanted(course: Course) -> tuple[dict, dict]:
    """What nbgrader's tables should hold: students' names and emails, assignments' due dates."""
    students = {p.id: (p.first_name or None, p.last_name or None, p.email or None)
                for p in course.roster.students}
    return students, {a.id: _naive_utc(course.due(a.id)) for a in course.assignments}


def _digest(course: Course) -> str:
    students, dues = _wanted(course)
    data = [course.id, students, {name: due.isoformat() for name, due in dues.items()}]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _sync(gb: Gradebook, course: Course, *, force: bool = False) -> int:
    """Roster and deadlines from the course file into nbgrader's tables, touching only changes,
    and only when the course file changed since the last sync (or with ``force``). Returns how
    many rows it wrote."""
    from .calendar import utcnow
    from .gradebook.records import nbgrader_sync_digest, record_nbgrader_sync

    digest = _digest(course)
    if not force and nbgrader_sync_digest(gb) == digest:
        return 0
    students, dues = _wanted(course)
    written = 0
    existing = {student.id: student for student in gb.nb.students}
    for student_id, wanted in students.items():
        current = existing.get(student_id)
        if current is None or (current.first_name, current.last_name, current.email) != wanted:
            gb.nb.update_or_create_student(
                student_id, first_name=wanted[0], last_name=wanted[1], email=wanted[2]
            )
            written += 1
    assignments = {assignment.name: assignment for assignment in gb.nb.assignments}
    for assignment_id, due in dues.items():
        current = assignments.get(assignment_id)
        if current is None or current.duedate != due:
            gb.nb.update_or_create_assignment(assignment_id, duedate=due)
            written += 1
    record_nbgrader_sync(gb, digest, now=utcnow())
    return written


def open_workspace(path: Path | str | None = None) -> Workspace:
    course, course_file = load_course(path)
    return Workspace(course, course_file.resolve())


def nbgrader_reason(result: dict) -> str:
    """Why an nbgrader API call failed, in one line: the last log line that names an error,
    without nbgrader's "[App | ERROR]" prefix or its "see the above traceback" filler."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    filler = ("please see the above traceback", "there was an error processing assignment")
    errors = [line for line in lines
              if "error" in line.lower() and not any(f in line.lower() for f in filler)]
    line = (errors or ["nbgrader failed without saying why"])[-1]
    return re.sub(r"^\[[^\]]*\]\s*", "", line)[:500]

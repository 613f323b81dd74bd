"""A course on disk: the folder holding ``course.yml``, laid out as an nbgrader course directory.

    course.yml
    assignments/<id>/     sources with solutions (nbgrader's source folder), graders/, mutants/
    release/<id>/         student versions (nbgrader generate_assignment)
    exchange/             nbgrader's filesystem exchange, for release and fetch on one machine
    inbox/<id>/<student>/ every submission as received, never overwritten
    submitted/ autograded/ feedback/   nbgrader's folders
    gradebook.db          nbgrader's tables and ours (SQLite unless a URL says otherwise)
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from .coursefile import Course, load_course
from .gradebook import Gradebook

__all__ = ["DB_URL_ENV", "STAFF_ONLY_FOLDERS", "Workspace", "open_workspace"]

DB_URL_ENV = "COURSE_DB_URL"
# Kept next to an assignment's sources but never copied into what students receive.
STAFF_ONLY_FOLDERS = ["graders", "mutants"]
NBGRADER_IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", *STAFF_ONLY_FOLDERS]


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
        return config

    def configure_grading(self, config: Config, assignment_id: str) -> Config:
        """The assignment's grading limits (course file, then defaults) for SandboxedGrading."""
        settings = self.course.grading_for(assignment_id)
        for key in ("notebook_timeout", "call_timeout", "memory_mb", "isolation"):
            setattr(config.SandboxedGrading, key, settings[key])
        return config

    def nbgrader_api(self, assignment_id: str | None = None):
        from nbgrader.apps import NbGraderAPI  # heavy import: only for commands that need it
        from nbgrader.coursedir import CourseDirectory
        from sqlalchemy.exc import SAWarning

        # nbgrader 0.9's autoflush patterns warn on SQLAlchemy 2; harmless, and not ours to fix
        warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")

        config = self.nbgrader_config()
        if assignment_id is not None:
            self.configure_grading(config, assignment_id)
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    def gradebook(self) -> Gradebook:
        """Open the gradebook with nbgrader's students and assignments matching the course file."""
        gb = Gradebook(self.db_url, self.course.id)
        try:
            _sync(gb, self.course)
        except BaseException:
            gb.close()
            raise
        return gb


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    # nbgrader keeps due dates as naive UTC
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _sync(gb: Gradebook, course: Course) -> None:
    """Roster and deadlines from the course file into nbgrader's tables, touching only changes."""
    existing = {student.id: student for student in gb.nb.students}
    for person in course.roster.students:
        current = existing.get(person.id)
        wanted = (person.first_name or None, person.last_name or None, person.email or None)
        if current is None or (current.first_name, current.last_name, current.email) != wanted:
            gb.nb.update_or_create_student(
                person.id, first_name=wanted[0], last_name=wanted[1], email=wanted[2]
            )
    assignments = {assignment.name: assignment for assignment in gb.nb.assignments}
    for assignment in course.assignments:
        due = _naive_utc(course.due(assignment.id))
        current = assignments.get(assignment.id)
        if current is None or current.duedate != due:
            gb.nb.update_or_create_assignment(assignment.id, duedate=due)


def open_workspace(path: Path | str | None = None) -> Workspace:
    course, course_file = load_course(path)
    return Workspace(course, course_file.resolve())

"""Small course files for tests that need a roster and one assignment and nothing more (the
hub's settings, the exchange's routing, the fleet's jobs), their gradebooks (made explicitly, as
`course init` and `course upgrade` make them: no other command creates one), and the hub
configuration that ``hub_config.apply`` makes of them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from traitlets.config import Config

__all__ = ["BASE_COURSE", "LTI_PLATFORM", "configured", "course_text", "create_gradebook",
           "rewrite_in_place", "utc"]

REPO = Path(__file__).resolve().parent.parent  # the repository

# a course file's lines registering it with one LMS platform (the hub then runs lti-jwks)
LTI_PLATFORM = """lti:
  platforms:
    - issuer: https://lms.example.org
      client_id: tool-1
      deployment_ids: ["1"]
      auth_login_url: https://lms.example.org/auth
      auth_token_url: https://lms.example.org/token
      key_set_url: https://lms.example.org/jwks
      contexts: ["42"]
"""

BASE_COURSE = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
deadline_rule: {weekday: sunday, time: "18:00"}
sessions:
  - {date: 2026-10-20, start: "10:15", topic: Intro}
  - {date: 2026-10-27, start: "10:15", topic: MLP}
  - {date: 2026-11-03, start: "10:15", topic: CNN}
assignments:
  - {id: 01-numpy, title: NumPy, for_session: 2}
  - {id: 02-linreg, title: Linear regression, due: 2026-11-01 18:00}
policy: {excused_misses: 1}
roster:
  instructors:
    - {id: ina, first_name: Ina, last_name: Structor}
  students:
    - {id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org}
    - {id: ben, first_name: Ben}
    - {id: cleo, first_name: Cleo}
"""


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def create_gradebook(course: Path) -> str | None:
    """Create the gradebook of the course file in ``course`` as `course upgrade` does (at
    $COURSE_DB_URL, else its gradebook.url, else gradebook.db beside it) and return its URL;
    None when the course file has errors (nothing could open a gradebook for it)."""
    from course.errors import UserError
    from course.gradebook.database import upgrade_database
    from course.workspace import open_workspace

    try:
        url = open_workspace(course).db_url
    except UserError:
        return None
    upgrade_database(url)
    return url


def course_text(course_id: str = "dl-test", *, title: str = "Deep Learning (test)",
                instructors: tuple[str, ...] = ("ina",), graders: tuple[str, ...] = (),
                students: tuple[str, ...] = ("ada", "ben"),
                due: str = "2027-01-10 18:00") -> str:
    def people(ids):
        return "[" + ", ".join(f"{{id: {person}}}" for person in ids) + "]"

    staff = f"  instructors: {people(instructors)}\n"
    if graders:
        staff += f"  graders: {people(graders)}\n"
    return (f"id: {course_id}\ntitle: {title}\ntimezone: Europe/Berlin\n"
            f"withdrawal_deadline: 2027-03-01\nassignments:\n  - {{id: 01-numpy, due: {due}}}\n"
            f"roster:\n{staff}  students: {people(students)}\n")


def configured(course_files: Path | str | list, **settings) -> Config:
    """What a jupyterhub_config.py calling ``hub_config.apply`` ends up with, for one course
    file or several, the simple authenticator and ``settings`` (``c.CourseHub.*``)."""
    from hub_config import apply

    c = Config()
    if isinstance(course_files, list):
        c.CourseHub.course_files = [str(path) for path in course_files]
    else:
        c.CourseHub.course_file = str(course_files)
    c.CourseHub.authenticator = "simple"
    c.CourseHub.simple_password = "password-123"
    for key, value in settings.items():
        setattr(c.CourseHub, key, value)
    apply(c)
    return c


def rewrite_in_place(course_file: Path, text: str, *, same_tick: bool) -> None:
    """Write the course file in place (same inode); ``same_tick``: as if within one tick of
    the file system's clock, its modification time stays what it was."""
    before = course_file.stat()
    with open(course_file, "r+", encoding="utf-8") as file:
        file.seek(0)
        file.write(text)
        file.truncate()
    assert course_file.stat().st_ino == before.st_ino
    if same_tick:
        os.utime(course_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert course_file.stat().st_mtime_ns == before.st_mtime_ns

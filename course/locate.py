"""Where the course file is: one rule for every command and every library entry point.

``--course PATH`` if given (a file, or a folder holding ``course.yml``); else ``$COURSE_FILE``
if set; else ``course.yml`` in the current folder or the nearest parent folder (looking upward
as git does), stopping at the filesystem root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .errors import UserError

__all__ = ["COURSE_FILE", "ENV_VAR", "CourseFileNotFound", "find_course_file"]

COURSE_FILE = "course.yml"
ENV_VAR = "COURSE_FILE"
NONE_FOUND = (f"no {COURSE_FILE} here or in any parent folder; give --course PATH or set "
              f"{ENV_VAR}")


class CourseFileNotFound(UserError, FileNotFoundError):
    """No course file where the rule looked; the message says where that was and what to do."""

    def __init__(self, message: str, path: Path | None = None):
        self.path = path
        super().__init__(message)


def find_course_file(path: Path | str | None = None, *, start: Path | str | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The course file: ``path`` (``--course``) if given, else ``$COURSE_FILE`` if set (in
    ``environ``, default ``os.environ``), else ``course.yml`` in ``start`` (default: the current
    folder) or in its nearest parent folder that has one.

    A folder given as ``path`` or ``$COURSE_FILE`` means its ``course.yml``; a given path that
    does not exist is an error, never a reason to keep looking elsewhere."""
    if path:
        return _given(Path(path), "")
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return _given(Path(environ[ENV_VAR]), f" (from ${ENV_VAR})")
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / COURSE_FILE
        if candidate.is_file():
            return candidate
    raise CourseFileNotFound(NONE_FOUND)


def _given(candidate: Path, source: str) -> Path:
    if candidate.is_dir():
        candidate = candidate / COURSE_FILE
    if not candidate.is_file():
        raise CourseFileNotFound(
            f"{candidate}{source}: no course file here (create one with 'course init')", candidate)
    return candidate

"""Opening the gradebook: nbgrader's tables first (nbgrader stamps its own schema only in an empty
database), then ours, migrated by alembic under a version table of our own."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from nbgrader.api import Gradebook as NbGradebook
from sqlalchemy.orm import Session

__all__ = ["Gradebook", "open_gradebook", "upgrade_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_on_path() -> None:
    # nbgrader stamps a new database by running the ``alembic`` command found on PATH; when the
    # CLI is started as .venv/bin/course, that folder may not be on PATH.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def upgrade_schema(connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    # alembic's logging setup would otherwise reconfigure the root logger of the CLI
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(config, "head")


class Gradebook:
    """nbgrader's gradebook (``.nb``) plus a SQLAlchemy session on our tables (``.session``),
    sharing one engine. Use as a context manager; ``commit()`` is explicit."""

    def __init__(self, url: str, course_id: str):
        self.url = url
        _alembic_on_path()
        self.nb = NbGradebook(url, course_id=course_id)
        with self.nb.engine.begin() as connection:
            upgrade_schema(connection)
        self.session = Session(self.nb.engine, expire_on_commit=False)

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        self.session.close()
        self.nb.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is not None:
            self.session.rollback()
        self.close()


@contextlib.contextmanager
def open_gradebook(url: str, course_id: str):
    gradebook = Gradebook(url, course_id)
    try:
        yield gradebook
    finally:
        gradebook.close()

"""Opening the gradebook: nbgrader's tables first (nbgrader stamps its own schema only in an empty
database), then ours, migrated by alembic under a version table of our own."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Self

import nbgrader
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from nbgrader.api import Base as NbBase
from nbgrader.api import Gradebook as NbGradebook
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

__all__ = ["Gradebook", "open_gradebook", "upgrade_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _create_nbgrader_schema(url: str) -> None:
    """What nbgrader's Gradebook does for an empty database, minus its subprocess.

    nbgrader learns its own alembic head by running ``alembic heads`` in a new Python process
    (about 4 s, and it needs ``alembic`` on PATH); reading the same head in-process is instant
    once nbgrader is imported.
    """
    engine = create_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            # WAL: readers never block the writers of parallel graders (persists in the file)
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        if sa_inspect(engine).get_table_names():
            return
        head = ScriptDirectory(str(Path(nbgrader.__file__).with_name("alembic"))).get_current_head()
        with engine.begin() as connection:
            NbBase.metadata.create_all(connection)
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    finally:
        engine.dispose()


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
        _create_nbgrader_schema(url)
        self.nb = NbGradebook(url, course_id=course_id)
        with self.nb.engine.begin() as connection:
            upgrade_schema(connection)
        self.session = Session(self.nb.engine, expire_on_commit=False)

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        self.session.close()
        self.nb.close()

    def __enter__(self) -> Self:
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

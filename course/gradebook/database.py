"""Opening the gradebook: nbgrader's tables and ours in one database.

Opening costs one query: our schema version in ``course_alembic_version``; neither alembic nor
nbgrader is imported for it (nbgrader's package pulls in its whole application stack, about 2 s).
The database is created the first time it is opened (nbgrader's tables, then ours by alembic, under
a version table of our own, as nbgrader keeps its own), migrated when its stored version is older
than ``SCHEMA_VERSION``, and by ``course upgrade``. nbgrader's own Gradebook (``Gradebook.nb``)
is opened only when something uses it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from ..errors import UserError
from . import SCHEMA_VERSION, VERSION_TABLE

__all__ = ["SCHEMA_VERSION", "Gradebook", "open_gradebook", "stored_version", "upgrade_database",
           "upgrade_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _create_nbgrader_schema(database: str | Engine) -> None:
    """What nbgrader's Gradebook does for an empty database (a URL or an engine), minus its
    subprocess.

    nbgrader learns its own alembic head by running ``alembic heads`` in a new Python process
    (about 4 s, and it needs ``alembic`` on PATH); reading the same head in-process is instant
    once nbgrader is imported.
    """
    import nbgrader
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base as NbBase

    engine = database if isinstance(database, Engine) else create_engine(database)
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
        if engine is not database:
            engine.dispose()


def upgrade_schema(connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    # alembic's logging setup would otherwise reconfigure the root logger of the CLI
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(config, "head")


def stored_version(engine: Engine) -> str | None:
    """Our schema version in the database; None when our tables are not there yet."""
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except (OperationalError, ProgrammingError):
        if sa_inspect(engine).has_table(VERSION_TABLE):
            raise  # there, but unreadable (locked, no permission): not a new database
        return None


def _needs_upgrade(version: str | None) -> bool:
    if version == SCHEMA_VERSION:
        return False
    if version is None or (version.isdigit() and int(version) < int(SCHEMA_VERSION)):
        return True
    raise UserError(f"the gradebook's schema is at version {version}, newer than this version "
                    f"of course knows ({SCHEMA_VERSION}): update course before using it")


def _upgrade(engine: Engine) -> None:
    _create_nbgrader_schema(engine)  # only in an empty database
    with engine.begin() as connection:
        upgrade_schema(connection)


def upgrade_database(url: str) -> tuple[str | None, str]:
    """Create or migrate the gradebook at ``url`` to ``SCHEMA_VERSION`` (``course upgrade``);
    returns the version it was at (None: new) and the one it is at now."""
    engine = create_engine(url)
    try:
        before = stored_version(engine)
        if _needs_upgrade(before):
            _upgrade(engine)
        return before, stored_version(engine)
    finally:
        engine.dispose()


class Gradebook:
    """A SQLAlchemy session on our tables (``.session``) and nbgrader's gradebook (``.nb``),
    opened on first use. Use as a context manager; ``commit()`` is explicit.

    ``on_nbgrader_open(gradebook)`` runs once, when ``.nb`` is first used: the workspace writes
    the course file's students and deadlines into nbgrader's tables there, when they changed.
    """

    def __init__(self, url: str, course_id: str, *,
                 on_nbgrader_open: Callable[[Gradebook], object] | None = None):
        self.url, self.course_id = url, course_id
        self.engine = create_engine(url)
        try:
            if _needs_upgrade(stored_version(self.engine)):
                _upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.session = Session(self.engine, expire_on_commit=False)
        self._nb = None
        self._on_nbgrader_open = on_nbgrader_open

    @property
    def nb(self):
        """nbgrader's ``Gradebook`` on the same database (its own engine), opened now if not yet."""
        if self._nb is None:
            from nbgrader.api import Gradebook as NbGradebook

            self._nb = NbGradebook(self.url, course_id=self.course_id)
            if self._on_nbgrader_open is not None:
                try:
                    self._on_nbgrader_open(self)
                except BaseException:
                    self._nb.close()
                    self._nb = None
                    raise
        return self._nb

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        self.session.close()
        if self._nb is not None:
            self._nb.close()
            self._nb = None
        self.engine.dispose()

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

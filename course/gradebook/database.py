"""Opening the gradebook: nbgrader's tables and ours in one database.

Opening costs one query: our schema version in ``course_alembic_version``; neither alembic nor
nbgrader is imported for it (nbgrader's package pulls in its whole application stack, about 2 s).
A gradebook is created only when asked to (``upgrade_database``, what ``course init`` and ``course
upgrade`` run, or ``Gradebook(..., create=True)``): opening a URL where there is none (no SQLite
file, or a database without any of the gradebook's tables) is refused, so a moved gradebook or a
mistyped URL never starts an empty one. An existing gradebook whose stored version is older than
``SCHEMA_VERSION`` is migrated on opening. A URL that does not parse is refused in one line
(``GradebookUnusable``); a server that cannot be reached or a file that is no database keeps its
driver's error, which the CLI prints in one line naming the URL (``failures``).
nbgrader's own Gradebook (``Gradebook.nb``) is opened only when something uses it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from ..errors import GradebookMissing, GradebookUnusable, UserError
from . import SCHEMA_VERSION, VERSION_TABLE
from .failures import opening, shown_url

__all__ = ["SCHEMA_VERSION", "Gradebook", "open_gradebook", "stored_version", "upgrade_database",
           "upgrade_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")
# a database holding none of these holds no gradebook (ours, or nbgrader's before ours was added)
GRADEBOOK_TABLES = frozenset({VERSION_TABLE, "assignment", "student", "submitted_assignment"})


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


def _engine(url: str, *, create: bool) -> Engine:
    """An engine on ``url``, refusing a URL that does not parse and, unless ``create``, a SQLite
    file that does not exist (SQLite would create it on connecting)."""
    shown = shown_url(url)
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:  # ImportError: a driver that is not installed
        raise GradebookUnusable(f"the gradebook URL {shown} is not a database URL this course "
                                f"can open ({exc})") from None
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") and \
            not engine.url.query.get("uri"):
        path = Path(database)
        if not path.exists():
            engine.dispose()
            if not create:
                raise GradebookMissing(shown)
            if not path.parent.is_dir():
                raise GradebookUnusable(f"cannot create the gradebook at {shown}: the folder "
                                        f"{path.parent.absolute()} does not exist")
    return engine


def _probe(engine: Engine, url: str, *, create: bool) -> str | None:
    """The stored schema version (None: none of ours yet). Unless ``create``, a database that
    holds none of the gradebook's tables is refused (``GradebookMissing``).

    A database that cannot be reached or read keeps its error's type (a worker retries an
    ``OperationalError``: the server may be restarting), marked as failing to open the
    gradebook at ``url`` (``failures.opening``): the CLI then says so in one line."""
    try:
        version = stored_version(engine)
        if version is None and not create and not (
                GRADEBOOK_TABLES & set(sa_inspect(engine).get_table_names())):
            raise GradebookMissing(shown_url(url))
        return version
    except DBAPIError as exc:  # only our two fixed queries ran: the database's fault, not ours
        opening(exc, url, sqlite=engine.dialect.name == "sqlite")
        raise


def upgrade_database(url: str) -> tuple[str | None, str]:
    """Create or migrate the gradebook at ``url`` to ``SCHEMA_VERSION`` (``course init``,
    ``course upgrade``); returns the version it was at (None: new) and the one it is at now."""
    engine = _engine(url, create=True)
    try:
        before = _probe(engine, url, create=True)
        if _needs_upgrade(before):
            _upgrade(engine)
        return before, stored_version(engine)
    finally:
        engine.dispose()


class Gradebook:
    """A SQLAlchemy session on our tables (``.session``) and nbgrader's gradebook (``.nb``),
    opened on first use. Use as a context manager; ``commit()`` is explicit.

    A missing gradebook is refused (``GradebookMissing``) unless ``create``; an older one is
    migrated. ``on_nbgrader_open(gradebook)`` runs once, when ``.nb`` is first used: the
    workspace writes the course file's students and deadlines into nbgrader's tables there, when
    they changed.
    """

    def __init__(self, url: str, course_id: str, *, create: bool = False,
                 on_nbgrader_open: Callable[[Gradebook], object] | None = None):
        self.url, self.course_id = url, course_id
        self.engine = _engine(url, create=create)
        try:
            if _needs_upgrade(_probe(self.engine, url, create=create)):
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

    def rows(self) -> Callable[[str], list]:
        """``reading``'s SELECTs, run in this session: its pending rows are flushed first, so
        what was added and not yet committed is read too."""
        self.session.flush()
        connection = self.session.connection()
        return lambda sql: connection.exec_driver_sql(sql).all()

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
def open_gradebook(url: str, course_id: str, *, create: bool = False):
    gradebook = Gradebook(url, course_id, create=create)
    try:
        yield gradebook
    finally:
        gradebook.close()

"""What a database failure means to the person who runs a command.

A gradebook that cannot be reached, read or found is the user's to fix (a URL, a server, a file),
so it ends in one line (``course.errors.UserError``, exit status 2); a failure that comes from our
own SQL (no such column, a broken constraint) is a bug and keeps its traceback. Nothing here
imports SQLAlchemy: ``course status`` reads SQLite with ``sqlite3`` alone.
"""

from __future__ import annotations

import re
import sqlite3
import sys

__all__ = ["database_failure", "opening", "shown_url"]

# SQLite's result codes that say something about the file or the machine, never about our SQL
# (a missing table or column is SQLITE_ERROR: a bug)
_SQLITE_USERS = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_NOTADB",
                           "SQLITE_CORRUPT", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_READONLY",
                           "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOLFS"})
# PostgreSQL's SQLSTATEs outside the OperationalError classes that a user fixes: no privilege,
# no such role or database, wrong password
_POSTGRES_USERS = ("42501", "28", "3D")


def shown_url(url: str) -> str:
    """A database URL fit for a message: its password, if any, as ``***``; otherwise as typed."""
    return re.sub(r"^([^:/]*://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _cause(driver_error: BaseException | None) -> str | None:
    """The driver's error in one line when a user can act on it, else None."""
    if isinstance(driver_error, sqlite3.Error):
        if getattr(driver_error, "sqlite_errorname", None) in _SQLITE_USERS:
            return _first_line(driver_error)
        return None
    psycopg = sys.modules.get("psycopg")  # imported already if the error is its
    if psycopg is None:
        return None
    if isinstance(driver_error, psycopg.OperationalError):  # connection, shutdown, locks
        return _first_line(driver_error)
    sqlstate = getattr(driver_error, "sqlstate", None) or ""
    if isinstance(driver_error, psycopg.Error) and sqlstate.startswith(_POSTGRES_USERS):
        return _first_line(driver_error)
    return None


def opening(error: BaseException, url: str, *, sqlite: bool) -> BaseException:
    """``error``, raised while opening the gradebook at ``url`` (its two fixed queries, so the
    database's fault, never our SQL's), marked so that ``database_failure`` names the URL."""
    error.gradebook_opening = f"cannot {'open' if sqlite else 'reach'} the gradebook at " \
                              f"{shown_url(url)}"
    return error


def database_failure(error: BaseException) -> str | None:
    """What went wrong with the gradebook's database, in one line, when ``error`` is a failure
    a user fixes (the server cannot be reached or went away, the file is locked or corrupt, the
    disk is full); None for anything else, a bug in our SQL above all, which must keep its
    traceback."""
    driver_error = error if isinstance(error, sqlite3.Error) else getattr(error, "orig", None)
    if not isinstance(error, sqlite3.Error) and \
            not type(error).__module__.startswith("sqlalchemy"):
        return None
    cause = _cause(driver_error)
    opened = getattr(error, "gradebook_opening", None)
    if opened is not None:
        return f"{opened}: {cause or _first_line(driver_error or error)}"
    return None if cause is None else f"the gradebook's database failed: {cause}"

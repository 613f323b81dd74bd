"""One grade push of a course at a time: two pushes at once would both find no line item and
both make one, and race each other's ledger rows.

On PostgreSQL a session advisory lock (``pg_advisory_lock``) on a connection of its own, held
for the whole push while its scores commit one by one; on SQLite an exclusive ``flock`` on a
lock file beside the database (``<gradebook>.lti-push.lock``), as every writer of a SQLite
gradebook runs on its machine. An in-memory database has no other writer. A second push waits
for the first, then finds what it made.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

__all__ = ["push_lock"]


def lock_key(course_id: str) -> int:
    """The advisory lock's key: a signed 64-bit number of the course id (one per course)."""
    digest = hashlib.sha256(f"course-lti-push:{course_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def push_lock(gb, course_id: str) -> Iterator[None]:
    """Hold the course's push lock (``gb``: the course's ``Gradebook``), waiting for it."""
    engine = gb.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            key = lock_key(course_id)
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()  # the lock is the session's, not the transaction's
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    path = Path(f"{database}.lti-push.lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process ends
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

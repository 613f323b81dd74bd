"""One database engine per URL for the gradebooks a grading job opens.

nbgrader's autograde of one submission opens its ``Gradebook`` about ten times, and the job
opens ours three times more; each opening makes a new SQLAlchemy engine and closes it with
``dispose()``: a new connection (on PostgreSQL a server process forked for it), the dialect's
first-connect queries, and every query compiled again (SQLAlchemy caches compiled queries per
engine). On PostgreSQL that was 15 connections per submission (benchmarks/grading.md).

Inside ``shared_engines()`` these openings (nbgrader's and ``course.gradebook``'s, in this
thread) share one engine per URL and options, whose ``dispose()`` waits for the scope's end.
The engine is kept for this thread's next job (a worker process's): its compiled queries, what
it learned at its first connection and, on a database server, its idle connections (each
returned rolled back: no session, no row of a job stays on it). A SQLite file's connections
are closed when the job ends (a gradebook made anew between jobs is another file, which a kept
connection would not see), and so are all of a job that failed (a database restarted under it:
the next job connects afresh; a connection lost between jobs fails the next job's first query,
which the worker retries, ``course.fleet.jobs.RetryLater``).
"""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import Engine, create_engine

__all__ = ["shared_engines"]

# .engines: URL and options -> engine, kept for this thread's jobs; .open: inside a scope
_local = threading.local()


def _kept_open(close: bool = True) -> None:
    """An engine's ``dispose()`` inside a scope: the scope's end disposes it."""


def _create_engine(url, *args, **kwargs) -> Engine:
    if not getattr(_local, "open", False):
        return create_engine(url, *args, **kwargs)
    engines = _local.__dict__.setdefault("engines", {})
    key = (str(url), args, tuple(sorted(kwargs.items())))
    if key not in engines:
        engines[key] = create_engine(url, *args, **kwargs)
    engine = engines[key]
    engine.dispose = _kept_open  # this instance only; the scope's end calls Engine.dispose
    return engine


@contextlib.contextmanager
def shared_engines():
    """The gradebooks opened in this thread inside share one engine per URL, kept for the
    thread's next scope; a SQLite file's connections, and all of a scope that raised, are
    closed when it ends."""
    from nbgrader import api

    from .gradebook import database

    api.create_engine = _create_engine  # idempotent; outside a scope it is create_engine
    database.create_engine = _create_engine
    if getattr(_local, "open", False):  # nested: the outer scope's engines
        yield
        return
    _local.open, failed = True, True
    try:
        yield
        failed = False
    finally:
        _local.open = False
        for engine in _local.__dict__.get("engines", {}).values():
            engine.__dict__.pop("dispose", None)  # Engine.dispose again, for whoever holds it
            if failed or engine.dialect.name == "sqlite":
                engine.dispose()  # its connections closed; the engine kept

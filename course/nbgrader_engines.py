"""One database engine for nbgrader's gradebooks within one grading job.

nbgrader's autograde of one submission opens its ``Gradebook`` about ten times, and each opening
makes a new SQLAlchemy engine: a new connection, a look at the tables, and every query compiled
again (SQLAlchemy caches compiled queries per engine). That is about a third of the CPU a
grading worker spends per submission in its own process (benchmarks/grading.md). Inside
``shared_engines()`` the openings of this thread share one engine per URL, disposed when the
job ends, so nothing outlives the job (a gradebook reset between jobs is seen as it is).
"""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import create_engine

__all__ = ["shared_engines"]

_local = threading.local()  # .engines: URL and options -> engine, while a scope is open


def _create_engine(url, *args, **kwargs):
    engines = getattr(_local, "engines", None)
    if engines is None:
        return create_engine(url, *args, **kwargs)
    key = (str(url), args, tuple(sorted(kwargs.items())))
    if key not in engines:
        engines[key] = create_engine(url, *args, **kwargs)
    return engines[key]


@contextlib.contextmanager
def shared_engines():
    """nbgrader's gradebooks opened in this thread inside share one engine per URL."""
    from nbgrader import api

    api.create_engine = _create_engine  # idempotent; outside a scope it is create_engine
    outer = getattr(_local, "engines", None)
    if outer is not None:  # nested: the outer scope's engines
        yield
        return
    _local.engines = {}
    try:
        yield
    finally:
        engines, _local.engines = _local.engines, None
        for engine in engines.values():
            engine.dispose()

"""The gradebook: nbgrader's database plus our tables (receipts, extensions, excuses, runs).

The names below are loaded on first use: ``reading`` (what ``course status`` reads with) must
not pay for SQLAlchemy's ORM, which ``database`` and ``models`` import.
"""

import importlib

__all__ = [
    "SCHEMA_VERSION",
    "VERSION_TABLE",
    "Excuse",
    "Extension",
    "Gradebook",
    "GradingRun",
    "Presentation",
    "Receipt",
    "Release",
    "SessionSummary",
    "open_gradebook",
]

SCHEMA_VERSION = "0008"  # our newest migration (tests check it is alembic's head)
VERSION_TABLE = "course_alembic_version"  # migrations/env.py names it to alembic

_LAZY = {"Gradebook": "database", "open_gradebook": "database", "Excuse": "models",
         "Extension": "models", "GradingRun": "models", "Presentation": "models",
         "Receipt": "models", "Release": "models", "SessionSummary": "models"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)

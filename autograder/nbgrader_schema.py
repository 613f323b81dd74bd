"""nbgrader checks each cell's nbgrader metadata with ``jsonschema.validate``, which first checks
the schema itself against its metaschema, on every call: about a fifth of the CPU a grading
worker spends per submission in its own process (benchmarks/grading.md). ``install`` makes
that call check each distinct schema once per process; the cell's metadata is still validated
every time, with the same validator class, and the same error raised. Grading workers install
it (``course.local_pool``, ``course.fleet.jobs``).
"""

from __future__ import annotations

import copy
import json
import threading
import types

import jsonschema
from jsonschema import exceptions, validators

__all__ = ["install", "validate"]

_checked: dict[str, object] = {}  # the schema as canonical JSON -> its validator
_lock = threading.Lock()


def validate(instance, schema) -> None:
    """``jsonschema.validate(instance, schema)``, the schema's own check done once per schema."""
    key = json.dumps(schema, sort_keys=True)  # by content: a schema changed is checked again
    validator = _checked.get(key)
    if validator is None:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)  # raises SchemaError as jsonschema.validate does
        validator = cls(copy.deepcopy(schema))  # its own copy: a later change is a new key
        with _lock:
            _checked[key] = validator
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


class _Jsonschema(types.ModuleType):
    """jsonschema as nbgrader's module sees it, with ``validate`` replaced."""

    validate = staticmethod(validate)

    def __getattr__(self, name):
        return getattr(jsonschema, name)


def install() -> None:
    """Use ``validate`` in nbgrader's metadata checks (idempotent; imports nbgrader's module)."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _Jsonschema):
        common.jsonschema = _Jsonschema("jsonschema")

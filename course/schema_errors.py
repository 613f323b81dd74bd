"""Errors of the course file's schema as its author reads them: each at a path through the file
(``assignments[1].due``) and its line in the YAML, a misspelt key with the key it probably
meant, a required key missing because it is misspelt reported once, at the misspelling.
"""

from __future__ import annotations

import difflib
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from . import calendar

__all__ = ["field_name", "line_of", "schema_errors"]


def line_of(tree: Any, loc: tuple) -> int | None:
    """1-based line of the deepest node of ``loc`` that exists in the YAML tree."""
    line = None
    node = tree
    for part in loc:
        try:
            if isinstance(part, int) and isinstance(node, list):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            elif isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    if line is None and hasattr(tree, "lc"):
        line = tree.lc.line + 1
    return line


def field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


REQUIRED_HINTS = {("timezone",): "an IANA time zone name such as 'Europe/Berlin'"}


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    if error["type"] == "missing":
        hint = REQUIRED_HINTS.get(tuple(error["loc"]))
        return f"required: {hint}" if hint else "required but missing"
    ctx_error = error.get("ctx", {}).get("error")
    if isinstance(ctx_error, calendar.LocalTimeError):
        return str(ctx_error)
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {error['input']!r})"
    return message


def _alternatives(annotation: Any) -> list:
    """The members of a union (``X | None`` gives X), else the annotation itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [member for member in get_args(annotation) if member is not type(None)]
    return [annotation]


def _in_file(loc: tuple, root: type[BaseModel]) -> tuple[tuple, type[BaseModel] | None]:
    """pydantic's error location as a path through the file (its union-member tags such as
    'int' dropped), and the model whose key the path's last name is."""
    path: list = []
    current: list = [root]
    owner = None
    for part in loc:
        options = [member for annotation in current for member in _alternatives(annotation)]
        if isinstance(part, int):
            current = [get_args(o)[0] for o in options if get_origin(o) is list and get_args(o)]
            path.append(part)
            continue
        models = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
        if not models:
            if len(options) > 1:
                continue  # pydantic names the union member it tried; not a key in the file
            path.append(part)
            current = []
            continue
        owner = models[0]
        found = owner.model_fields.get(part)
        current = [found.annotation] if found else []
        path.append(part)
    return tuple(path), owner


# keys that were replaced: the message says what to write instead
REPLACED = {"gpu": "grading.gpu was replaced by named queues: write 'queue: gpu' (or 'queue: cpu')"}


def _did_you_mean(key: str, model: type[BaseModel] | None, present: Any) -> str | None:
    """The allowed key of ``model`` closest to a misspelt one, preferring keys not yet given."""
    if model is None:
        return None
    allowed = list(model.model_fields)
    given = set(present) if isinstance(present, dict) else set()
    for candidates in ([name for name in allowed if name not in given], allowed):
        match = difflib.get_close_matches(key, candidates, n=1)
        if match:
            return match[0]
    return None


def _subtree(data: Any, path: tuple) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def schema_errors(exc: ValidationError, data: dict, root: type[BaseModel]) -> list[tuple[tuple, str]]:
    """Every schema error as (path in the file, message). A misspelt key gets a suggestion; a
    required key missing because it is misspelt is reported once, at the misspelling."""
    found: dict[tuple, list[str]] = {}  # path -> messages, in pydantic's order
    unknown: dict[tuple, tuple] = {}  # (parent path, suggested key) -> path of the unknown key
    missing: list[tuple] = []
    for error in exc.errors():
        path, owner = _in_file(tuple(error["loc"]), root)
        message = _message(error)
        if (error["type"] == "extra_forbidden" and path and isinstance(path[-1], str)
                and path[-1] in REPLACED and owner is not None
                and "queue" in owner.model_fields):
            message = f"unknown key; {REPLACED[path[-1]]}"
        elif error["type"] == "extra_forbidden" and path and isinstance(path[-1], str):
            suggestion = _did_you_mean(path[-1], owner, _subtree(data, path[:-1]))
            if suggestion:
                message = f"unknown key; did you mean {suggestion!r}?"
                unknown.setdefault((path[:-1], suggestion), path)
            else:
                allowed = ", ".join(owner.model_fields) if owner else ""
                message = f"unknown key; allowed here: {allowed}" if allowed else message
        elif error["type"] == "missing":
            missing.append(path)
        messages = found.setdefault(path, [])
        if message not in messages:
            messages.append(message)
    for path in missing:
        misspelt = unknown.get((path[:-1], path[-1]))
        if misspelt is not None:
            del found[path]
            found[misspelt] = [f"{found[misspelt][0]} ({path[-1]!r} is required)"]
    return [(path, "; or ".join([messages[0], *(m[:1].lower() + m[1:] for m in messages[1:])]))
            for path, messages in found.items()]

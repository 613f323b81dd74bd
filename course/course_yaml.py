"""The course file's YAML: ruamel.yaml in round-trip mode (comments and each node's line kept),
read with dates left as text so the schema reports a bad date at its line, and written back by
the tools that edit the file (``course roster import``, ``pull-lti``)."""

from __future__ import annotations

import datetime as dt
import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml import YAML

__all__ = ["dump_yaml", "load_yaml_tree", "plain", "reading_yaml"]


# ruamel.yaml is imported on first use: a course file read from the parse cache needs no YAML
def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


@functools.cache
def _dates_as_text():
    from ruamel.yaml.constructor import RoundTripConstructor

    class DatesAsText(RoundTripConstructor):
        """Leaves dates as text, so a bad date is reported by the schema with its field and
        line instead of failing the whole parse."""

    DatesAsText.add_constructor("tag:yaml.org,2002:timestamp",
                                RoundTripConstructor.construct_yaml_str)
    return DatesAsText


def reading_yaml() -> YAML:
    yaml = _yaml()  # round-trip mode: it knows each node's line
    yaml.Constructor = _dates_as_text()
    return yaml


def plain(node: Any) -> Any:
    """ruamel's tree as plain data; dates become ISO strings so pydantic parses one form."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, (dt.date, dt.datetime)):
        return node.isoformat(sep=" ") if isinstance(node, dt.datetime) else node.isoformat()
    if isinstance(node, str):
        return str(node)
    return node


def dump_yaml(tree: Any) -> str:
    out = io.StringIO()
    _yaml().dump(tree, out)
    return out.getvalue()


def load_yaml_tree(path: Path) -> Any:
    """The round-trip tree (comments kept), for tools that edit the course file."""
    return _yaml().load(path.read_text(encoding="utf-8"))


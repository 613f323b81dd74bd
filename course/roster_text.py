"""Edits to the roster in the course file's text that keep its layout: a changed field is
rewritten where it stands, a missing one is added to its entry, and a new person is a new entry
after the last one of their list, in the style of the entries around it (flow or block, their
indentation). Everything else in the file, comments and line breaks included, stays as it is.

``roster_edits`` raises ``CannotEdit`` for a layout it does not handle (a roster written as one
flow mapping, say); the caller then writes the file the way ruamel dumps it.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["CannotEdit", "render_scalar", "roster_edits"]

_PLAIN = re.compile(r"[^\W\d_][\w.@' -]*")  # text that YAML reads back as this text, unquoted
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


class CannotEdit(Exception):
    """The course file's layout is not one these edits handle."""


def render_scalar(value: str) -> str:
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.casefold() not in _RESERVED:
        return value
    if value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _last_line(lines: list[str], start: int, parent_indent: int) -> int:
    """The last line that holds content of the node starting at line ``start`` (0-based): the
    node ends before the next content line indented no deeper than ``parent_indent``."""
    last = start
    for number in range(start + 1, len(lines)):
        if _is_content(lines[number]):
            if _indent(lines[number]) <= parent_indent:
                break
            last = number
    return last


def _skip_quoted(text: str, start: int) -> int:
    """The offset after the quoted scalar that starts at ``start``."""
    quote, i = text[start], start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1:i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    raise CannotEdit("an unterminated quoted scalar")


def _scalar_end(text: str, start: int, flow: bool) -> int:
    if text[start] in "\"'":
        return _skip_quoted(text, start)
    eol = text.find("\n", start)
    i, eol = start, len(text) if eol < 0 else eol
    while i < eol and not (flow and text[i] in ",}]") and not (
            text[i] == "#" and text[i - 1] in " \t"):
        i += 1
    if i == start:
        raise CannotEdit("an empty scalar")
    return start + len(text[start:i].rstrip())


def _flow_end(text: str, start: int) -> int:
    """The offset of the ``}`` that closes the flow mapping opened at ``start``."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        before = text[:i].rstrip()[-1:]
        if char in "\"'" and before in ("{", "[", ",", ":"):
            i = _skip_quoted(text, i)
            continue
        if char == "#" and text[i - 1] in " \t":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise CannotEdit("an unclosed flow mapping")


class _Text:
    def __init__(self, text: str):
        self.text, self.lines = text, text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.edits: list[tuple[int, bool, int, int, int, str]] = []

    def offset(self, line: int, col: int) -> int:
        return self.starts[line] + col

    def replace(self, start: int, end: int, new: str, rank: int = 0) -> None:
        """Insertions at one offset land in the order of their rank, then the order they came,
        and before a replacement that starts there."""
        self.edits.append((start, end > start, rank, len(self.edits), end, new))

    def insert_lines_after(self, line: int, new_lines: list[str], rank: int) -> None:
        where = min(self.starts[line + 1], len(self.text))
        block = "".join(f"{new}\n" for new in new_lines)
        if where == len(self.text) and not self.text.endswith("\n"):
            block = "\n" + block
        self.replace(where, where, block, rank)

    def result(self) -> str:
        text = self.text
        for start, _replaces, _rank, _n, end, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text


def _update(doc: _Text, people: Any, index: int, changes: dict[str, str]) -> None:
    entry = people[index]
    if not hasattr(entry, "lc") or not entry:
        raise CannotEdit("an entry that is not a mapping")
    flow = entry.fa.flow_style()
    added = {key: value for key, value in changes.items() if key not in entry}
    for key, value in changes.items():
        if key in entry:
            start = doc.offset(*entry.lc.value(key))
            doc.replace(start, _scalar_end(doc.text, start, flow), render_scalar(value))
    if not added:
        return
    if flow:
        close = _flow_end(doc.text, doc.offset(*people.lc.item(index)))
        where = len(doc.text[:close].rstrip())
        doc.replace(where, where, "".join(f", {key}: {render_scalar(value)}"
                                          for key, value in added.items()))
        return
    scalars = [key for key in entry if not isinstance(entry[key], (dict, list))]
    first_line, key_col = entry.lc.key(next(iter(entry)))
    line = entry.lc.value(scalars[-1])[0] if scalars else first_line
    doc.insert_lines_after(line, [f"{' ' * key_col}{key}: {render_scalar(value)}"
                                  for key, value in added.items()], rank=0)


def _style(doc: _Text, people: Any) -> tuple[bool, int, int]:
    """(flow?, column of the dash, column of an entry's first key) of a list's last entry."""
    entry = people[-1]
    line, col = people.lc.item(len(people) - 1)
    before = doc.lines[line][:col].rstrip()
    if not before.endswith("-") or not hasattr(entry, "fa"):
        raise CannotEdit("a list entry that is not '- ...'")
    return entry.fa.flow_style(), len(before) - 1, col


def _entry_lines(person: dict[str, str], style: tuple[bool, int, int]) -> list[str]:
    flow, dash, key_col = style
    pairs = [f"{key}: {render_scalar(value)}" for key, value in person.items()]
    if flow:
        return [f"{' ' * dash}- {{{', '.join(pairs)}}}"]
    first = f"{' ' * dash}-{' ' * (key_col - dash - 1)}{pairs[0]}"
    return [first, *(f"{' ' * key_col}{pair}" for pair in pairs[1:])]


def _default_style(doc: _Text, roster: Any, key_indent: int) -> tuple[bool, int, int]:
    """The style of another roster list's entries, shifted to this list's key, else flow."""
    for people in (roster or {}).values():
        if hasattr(people, "lc") and isinstance(people, list) and people:
            flow, dash, key_col = _style(doc, people)
            shift = key_indent - roster.lc.key(next(iter(roster)))[1]
            return flow, dash + shift, key_col + shift
    return True, key_indent + 2, key_indent + 4


def _add(doc: _Text, tree: Any, role: str, people_to_add: list[dict[str, str]]) -> None:
    roster = tree["roster"]
    if not hasattr(roster, "lc") or roster.fa.flow_style():
        raise CannotEdit("a roster in flow style")
    people = roster.get(role)
    if people:
        if people.fa.flow_style():
            raise CannotEdit("a list in flow style")
        style = _style(doc, people)
        last = _last_line(doc.lines, people.lc.item(len(people) - 1)[0], style[1])
        doc.insert_lines_after(last, [line for person in people_to_add
                                      for line in _entry_lines(person, style)], rank=1)
        return
    if role in roster:  # "graders: []" or "graders:" with nothing
        line, key_indent = roster.lc.key(role)
        text = doc.lines[line]
        match = re.fullmatch(rf"(\s*{role}:)\s*(\[\s*\])?(\s*#.*)?", text)
        if not match:
            raise CannotEdit(f"an empty list written as {text.strip()!r}")
        start = doc.starts[line]
        doc.replace(start, start + len(text), match[1] + (match[3] or ""))
        header = []
    else:
        key_indent = roster.lc.key(next(iter(roster)))[1] if roster else tree.lc.key("roster")[1] + 2
        line = _last_line(doc.lines, tree.lc.key("roster")[0], tree.lc.key("roster")[1])
        header = [f"{' ' * key_indent}{role}:"]
    style = _default_style(doc, roster, key_indent)
    doc.insert_lines_after(line, header + [row for person in people_to_add
                                           for row in _entry_lines(person, style)], rank=1)


def roster_edits(text: str, tree: Any, adds: dict[str, list[dict[str, str]]],
                 updates: list[tuple[str, int, dict[str, str]]]) -> str:
    """``text`` with ``updates`` ((list, index, {field: value})) made to existing entries and the
    people in ``adds`` ({list: [fields]}) appended to their lists. ``tree`` is ``text`` loaded
    in ruamel's round-trip mode (it knows each node's line and column), before any change."""
    doc = _Text(text)
    for role, index, changes in updates:
        _update(doc, tree["roster"][role], index, changes)
    adds = {role: people for role, people in adds.items() if people}
    if adds and tree.get("roster") is None:
        _new_roster(doc, tree, adds)
        return doc.result()
    for role, people in adds.items():
        _add(doc, tree, role, people)
    return doc.result()


def _new_roster(doc: _Text, tree: Any, adds: dict[str, list[dict[str, str]]]) -> None:
    """A roster where the file has none, or only ``roster:``."""
    if "roster" in tree:
        line, indent = tree.lc.key("roster")
        if not re.fullmatch(r"\s*roster:\s*(#.*)?", doc.lines[line]):
            raise CannotEdit("an empty roster written another way")
        lines = []
    else:
        line, indent = len(doc.lines) - 1, 0
        lines = ["roster:"]
    style = _default_style(doc, None, indent + 2)
    for role, people in adds.items():
        lines += [f"{' ' * (indent + 2)}{role}:"] + [row for person in people
                                                      for row in _entry_lines(person, style)]
    doc.insert_lines_after(line, lines, rank=1)

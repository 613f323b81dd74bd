"""``course roster import``: merge a CSV of people into the course file, its layout kept;
``course roster drop``: remove a student from it (``drop_student``), comments kept.

The CSV is read by ``course.roster_csv`` (Excel's and LMS exports' formats, header aliases, every
row problem named at its line). Our columns: ``id`` (required), ``first_name``, ``last_name``,
``email``, ``sis_id`` (the student information system's id, for LMS exports), ``role``
(student, instructor or grader). People already in the course file are matched by id (without
case) and updated with the CSV's non-empty cells; an empty role keeps their role, another role
is a conflict. New people are appended (role student unless the CSV says otherwise). An import
that would give two people one ``sis_id`` or email is a conflict too, naming both. Conflicts
refuse the whole import; the merged file is validated before it replaces the old one, so a bad
CSV changes nothing. Only the lines of the people added or changed are written
(``course.roster_text``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from .course_yaml import dump_yaml, load_yaml_tree
from .coursefile import LMS_KEYS, parse_course
from .errors import UserError
from .roster_csv import CsvRow, RosterCsv, read_roster_csv
from .roster_text import CannotEdit, roster_edits

__all__ = ["RosterChange", "drop_student", "import_roster", "write_people"]

ROLES = {"student": "students", "instructor": "instructors", "grader": "graders"}
ROLE_OF = {key: role for role, key in ROLES.items()}
FIELDS = ("first_name", "last_name", "email", "sis_id")


@dataclass
class RosterChange:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    details: list[str] = field(default_factory=list)  # one line per person added or updated
    conflicts: list[str] = field(default_factory=list)  # with the course file: nothing written
    ignored: list[str] = field(default_factory=list)  # CSV columns that are none of ours


@dataclass
class _Plan:
    """What the import does: ``adds`` {list: [(fields, row)]}, ``updates`` [(list, index,
    changes, row)], and what it tells (``change``)."""

    adds: dict[str, list[tuple[dict, CsvRow]]] = field(default_factory=dict)
    updates: list[tuple[str, int, dict, CsvRow]] = field(default_factory=list)
    change: RosterChange = field(default_factory=RosterChange)


def _article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _plan(tree: Any, people: RosterCsv, course_file: Path) -> _Plan:
    roster = tree.get("roster") or {}
    known: dict[str, tuple[str, int, Any]] = {}  # id without case -> (list, index, entry)
    for key in ROLES.values():
        for index, entry in enumerate(roster.get(key) or []):
            if isinstance(entry, dict):
                known[str(entry.get("id")).casefold()] = (key, index, entry)
    plan = _Plan(change=RosterChange(ignored=people.ignored))
    change = plan.change
    for row in people.rows:
        wanted = {key: row.values[key] for key in FIELDS if row.values.get(key)}
        found = known.get(row.values["id"].casefold())
        if found is None:
            role = row.values["role"] or "student"
            plan.adds.setdefault(ROLES[role], []).append(({"id": row.values["id"], **wanted}, row))
            name = " ".join(filter(None, (wanted.get("first_name"), wanted.get("last_name"))))
            change.details.append(
                f"add {row.values['id']} ({role}, {people.at(row.line)}): {name or '(no name)'}"
                + "".join(f", {key} {wanted[key]}" for key in LMS_KEYS if key in wanted))
            change.added += 1
            continue
        key, index, entry = found
        person_id, line = entry["id"], roster[key].lc.item(index)[0] + 1
        if row.values["role"] and ROLES[row.values["role"]] != key:
            change.conflicts.append(
                f"{people.at(row.line)}: {person_id} is {_article(ROLE_OF[key])} in the course "
                f"file ({course_file}:{line}); the CSV says {row.values['role']}. Change the role "
                "in the course file if it changed, or leave the CSV's role empty")
            continue
        changes = {k: v for k, v in wanted.items() if str(entry.get(k, "")) != v}
        if not changes:
            change.unchanged += 1
            continue
        plan.updates.append((key, index, changes, row))
        change.details.append(f"update {person_id} ({people.at(row.line)}): " + ", ".join(
            f"{k} {str(entry.get(k, ''))!r} -> {v!r}" for k, v in changes.items()))
        change.updated += 1
    change.conflicts += _lms_key_conflicts(roster, plan, people, course_file)
    return plan


def _lms_key_conflicts(roster: Any, plan: _Plan, people: RosterCsv,
                       course_file: Path) -> list[str]:
    """Two people with one sis_id or email after the import, one of them from the CSV (the
    CSV's own rows were compared when it was read)."""
    updated = {(key, index): (changes, row) for key, index, changes, row in plan.updates}
    kept, imported = [], []  # (person id, field, value, where)
    for key in ROLES.values():
        for index, entry in enumerate(roster.get(key) or []):
            if not isinstance(entry, dict):
                continue
            changes, row = updated.get((key, index), ({}, None))
            for name in LMS_KEYS:
                if name in changes:
                    imported.append((entry["id"], name, changes[name], people.at(row.line)))
                elif entry.get(name):
                    line = roster[key].lc.item(index)[0] + 1
                    kept.append((entry["id"], name, str(entry[name]), f"{course_file}:{line}"))
    for added in plan.adds.values():
        for person, row in added:
            imported += [(person["id"], name, person[name], people.at(row.line))
                         for name in LMS_KEYS if name in person]
    owners = {(name, value.casefold() if name == "email" else value): (person_id, where)
              for person_id, name, value, where in kept}
    conflicts = []
    for person_id, name, value, where in imported:
        other = owners.get((name, value.casefold() if name == "email" else value))
        if other:
            conflicts.append(f"{where}: {person_id}'s {name} {value!r} is also {other[0]}'s "
                             f"({other[1]}): an LMS matches students by it, so one would get the "
                             "other's grades")
    return conflicts


def _as_data(tree: Any) -> Any:
    return json.loads(json.dumps(tree, default=str))


def _merged_text(text: str, tree: Any, plan: _Plan) -> str:
    """The course file after the import: the original text with only the people's lines
    edited (``roster_edits``), or, for a layout those edits do not handle, ruamel's dump."""
    adds = {key: [person for person, _ in added] for key, added in plan.adds.items()}
    updates = [(key, index, changes) for key, index, changes, _ in plan.updates]
    try:
        edited = roster_edits(text, tree, adds, updates)
    except CannotEdit:
        edited = None
    if tree.get("roster") is None:
        tree["roster"] = CommentedMap()
    roster = tree["roster"]
    for key, index, changes in updates:
        roster[key][index].update(changes)
    for key, people in adds.items():
        if not roster.get(key):
            roster[key] = CommentedSeq()
        roster[key].extend(CommentedMap(person) for person in people)
    return edited if edited is not None and _same_data(edited, tree) else dump_yaml(tree)


def _same_data(text: str, tree: Any) -> bool:
    """Whether ``text`` holds what ``tree`` does (the check on the edits)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return _as_data(YAML(typ="rt").load(text)) == _as_data(tree)
    except YAMLError:
        return False


def import_roster(course_file: Path, csv_path: Path, *, columns: dict[str, str] | None = None,
                  dry_run: bool = False) -> RosterChange:
    """Merge ``csv_path`` into the course file. Conflicts with it refuse the import (a
    UserError naming each); with ``dry_run`` they are returned and nothing is written."""
    people = read_roster_csv(Path(csv_path), columns)
    text = course_file.read_text(encoding="utf-8")
    tree = load_yaml_tree(course_file)
    if not isinstance(tree, dict):
        parse_course(text, course_file)  # says what is wrong with it
    plan = _plan(tree, people, course_file)
    if dry_run:
        return plan.change
    if plan.change.conflicts:
        raise UserError("\n".join(plan.change.conflicts))
    merged = _merged_text(text, tree, plan)
    parse_course(merged, f"{course_file} (after importing {csv_path})")  # refuse a broken result
    if merged != text:
        _replace(course_file, merged)
    return plan.change


def write_people(course_file: Path, adds: dict[str, list[dict]],
                 updates: list[tuple[str, int, dict]], source: str) -> None:
    """Add and update people as an import does (``course.lms.lti.roster_pull`` pulls them from
    an LMS): ``adds`` {list: [fields]}, ``updates`` [(list, index, changes)] with indices into
    the file's lists as they are now; the result is validated before it replaces the file."""
    text = course_file.read_text(encoding="utf-8")
    plan = _Plan(adds={key: [(person, None) for person in people] for key, people in adds.items()},
                 updates=[(key, index, changes, None) for key, index, changes in updates])
    merged = _merged_text(text, load_yaml_tree(course_file), plan)
    parse_course(merged, f"{course_file} (after {source})")  # refuse a broken result
    if merged != text:
        _replace(course_file, merged)


def _replace(course_file: Path, text: str) -> None:
    tmp = course_file.with_suffix(".yml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(course_file)


def _keep_following_comments(people: CommentedSeq, index: int) -> None:
    """ruamel keeps the full-line comments after an entry in that entry's end-of-line comment,
    which would go with it: move them to the entry before (when there is one)."""
    token = (people.ca.items.get(index) or [None])[0]
    if token is None or index == 0:
        return
    _own, _, following = token.value.partition("\n")
    if not following.strip():
        return
    previous = people[index - 1]
    if isinstance(previous, CommentedMap) and previous and not previous.fa.flow_style():
        # a block mapping holds what follows it after its last value
        slots, slot = previous.ca.items.setdefault(list(previous)[-1], [None] * 4), 2
    else:
        slots, slot = people.ca.items.setdefault(index - 1, [None] * 4), 0
    if slots[slot] is None:
        slots[slot] = CommentToken("\n" + following, CommentMark(token.column))
    else:
        slots[slot].value = slots[slot].value.rstrip("\n") + "\n" + following


def drop_student(course_file: Path, student_id: str) -> dict:
    """Remove a student from the course file's roster (comments kept); returns their entry as
    it was. What the gradebook holds about them is not touched."""
    tree = load_yaml_tree(course_file)
    roster = tree.get("roster") if isinstance(tree, dict) else None
    people = (roster or {}).get("students") or []
    index = next((i for i, person in enumerate(people)
                  if isinstance(person, dict) and str(person.get("id")) == student_id), None)
    if index is None:
        raise UserError(f"unknown student {student_id!r}: not in the roster's students of "
                        f"{course_file}")
    removed = {str(key): value for key, value in people[index].items()}
    _keep_following_comments(people, index)
    del people[index]
    text = dump_yaml(tree)
    parse_course(text, f"{course_file} (after dropping {student_id})")  # refuse a broken result
    _replace(course_file, text)
    return removed

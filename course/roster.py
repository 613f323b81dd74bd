"""``course roster import``: merge a CSV of people into the course file, comments kept;
``course roster drop``: remove a student from it (``drop_student``), the same way.

Columns: ``id`` (required), ``first_name``, ``last_name``, ``email``, ``sis_id`` (the
student information system's id, for LMS exports), ``role`` (student,
instructor or grader; default student). Existing people are updated by id, new ones appended;
an id may appear on one row only (ids that differ only in case count as the same).
The merged file is validated before it replaces the old one, so a bad CSV changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from .coursefile import dump_yaml, load_yaml_tree, parse_course
from .errors import UserError

__all__ = ["RosterChange", "drop_student", "import_roster"]

ROLES = {"student": "students", "instructor": "instructors", "grader": "graders"}
FIELDS = ("first_name", "last_name", "email", "sis_id")


@dataclass(frozen=True)
class RosterChange:
    added: int
    updated: int
    unchanged: int


def _read_csv(csv_path: Path) -> list[dict]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "id" not in [f.strip() for f in reader.fieldnames]:
                raise UserError(f"{csv_path}:1: the header must name an 'id' column "
                                f"(got {reader.fieldnames})")
            rows = []
            first_line: dict[str, tuple[int, str]] = {}  # normalized id -> (line, id as written)
            for raw in reader:
                line = reader.line_num  # counts the blank lines DictReader skips
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                if not row.get("id"):
                    raise UserError(f"{csv_path}:{line}: id is empty")
                _refuse_duplicate(first_line, row["id"], line, csv_path)
                role = (row.get("role") or "student").lower()
                if role not in ROLES:
                    raise UserError(f"{csv_path}:{line}: role {role!r} is not one of "
                                    f"{', '.join(ROLES)}")
                rows.append({**row, "role": role, "line": line})
            return rows
    except FileNotFoundError:
        raise UserError(f"{csv_path}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"{csv_path}: not UTF-8 text") from None


def _refuse_duplicate(first_line: dict, person_id: str, line: int, csv_path: Path) -> None:
    """One row per person: ids are compared without the spaces around them (already dropped)
    and without case, as log-in names are (JupyterHub lowercases them), whatever the role."""
    key = person_id.casefold()
    if key not in first_line:
        first_line[key] = (line, person_id)
        return
    other_line, other_id = first_line[key]
    where = f"{csv_path}:{other_line} and {csv_path}:{line}"
    if other_id == person_id:
        raise UserError(f"{where} both have id {person_id!r}; keep one row per person")
    raise UserError(f"{where} have ids {other_id!r} and {person_id!r}, the same log-in name "
                    "(case is ignored); keep one row per person")


def import_roster(course_file: Path, csv_path: Path) -> RosterChange:
    rows = _read_csv(Path(csv_path))
    tree = load_yaml_tree(course_file)
    roster = tree.setdefault("roster", CommentedMap())
    added = updated = unchanged = 0
    for row in rows:
        people = roster.setdefault(ROLES[row["role"]], CommentedSeq())
        entry = next((p for p in people if str(p.get("id")) == row["id"]), None)
        wanted = {key: row[key] for key in FIELDS if row.get(key)}
        if entry is None:
            people.append(CommentedMap({"id": row["id"], **wanted}))
            added += 1
        elif any(str(entry.get(key, "")) != value for key, value in wanted.items()):
            entry.update(wanted)
            updated += 1
        else:
            unchanged += 1
    text = dump_yaml(tree)
    parse_course(text, f"{course_file} (after importing {csv_path})")  # refuse a broken result
    _replace(course_file, text)
    return RosterChange(added, updated, unchanged)


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

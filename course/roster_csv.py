"""Reading a roster CSV as it comes: from Excel (a German one separates with ``;`` and may start
with a byte-order mark; CRLF line ends), or exported from an LMS with its own headers.

Our columns are ``COLUMNS``; only ``id`` (the log-in name) is required. A header cell is matched
to ours by name or by one of ``HEADER_ALIASES``, ignoring case, spaces, ``_`` and ``-``
("E-Mail address" is "emailaddress"); ``--column ours=theirs`` names one explicitly. Header
cells that match none of ours are ignored, and said so. Every problem of a row is reported
against its line in the CSV (blank lines counted), before anything touches the course file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .coursefile import LMS_KEYS, Person
from .errors import UserError

__all__ = ["COLUMNS", "HEADER_ALIASES", "ROLE_ALIASES", "CsvRow", "RosterCsv", "column_options",
           "read_roster_csv"]

COLUMNS = ("id", "first_name", "last_name", "email", "sis_id", "role")
HEADER_ALIASES = {  # what LMS exports (Moodle, Canvas, Ilias) and spreadsheets call our columns
    "id": ("username", "user name", "login", "login name", "login id", "benutzername", "kennung"),
    "first_name": ("first name", "given name", "vorname"),
    "last_name": ("last name", "surname", "family name", "nachname"),
    "email": ("email address", "e-mail", "mail", "e-mail-adresse"),
    "sis_id": ("sis id", "sis user id", "student id", "student number", "id number",
               "matriculation number", "matrikelnummer"),
    "role": ("roles", "rolle"),
}
ROLE_ALIASES = {  # Moodle's role names, and German ones
    "student": ("student", "students", "learner", "studentin", "studierende", "studierender"),
    "instructor": ("instructor", "instructors", "teacher", "editing teacher", "lecturer",
                   "dozent", "dozentin"),
    "grader": ("grader", "graders", "non-editing teacher", "teaching assistant", "ta", "tutor",
               "tutorin", "korrektor", "korrektorin"),
}
MAX_REPORTED = 20  # row problems listed at most; the rest are counted


def _key(name: str) -> str:
    """A header or role name as compared: no case, no spaces, no punctuation."""
    return re.sub(r"[\W_]+", "", name.casefold())


_OURS_BY_KEY = {_key(alias): ours for ours, aliases in HEADER_ALIASES.items()
                for alias in (ours, *aliases)}
_ROLE_BY_KEY = {_key(alias): role for role, aliases in ROLE_ALIASES.items() for alias in aliases}


@dataclass(frozen=True)
class CsvRow:
    line: int  # where the row starts in the file, 1-based
    values: dict[str, str]  # our column -> its cell, spaces around it dropped; role normalized


@dataclass
class RosterCsv:
    path: Path
    rows: list[CsvRow] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # header cells that are none of ours

    def at(self, line: int) -> str:
        return f"{self.path}:{line}"


def column_options(options: list[str] | None) -> dict[str, str]:
    """``["ours=theirs", ...]`` (``--column``) as {ours: theirs}."""
    columns = {}
    for option in options or []:
        ours, sep, theirs = (part.strip() for part in option.partition("="))
        if not sep or not ours or not theirs:
            raise UserError(f"--column {option}: write it as OURS=THEIRS, e.g. id=Username")
        if ours not in COLUMNS:
            raise UserError(f"--column {option}: {ours!r} is not one of ours "
                            f"({', '.join(COLUMNS)})")
        columns[ours] = theirs
    return columns


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text (in Excel, save it as 'CSV UTF-8')") from None


def _delimiter(text: str) -> str:
    """The separator of the header line: ``,``, ``;`` (Excel in German) or a tab."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    header = re.sub(r'"[^"]*"', "", header)  # separators inside quotes do not count
    return max(",;\t", key=header.count)  # a tie (none of them: one column) is ','


def _mapping(roster: RosterCsv, header: list[str], explicit: dict[str, str]) -> dict[str, int]:
    """Our column -> its index in the header."""
    where = f"{roster.at(1)}: "
    keys = [_key(cell) for cell in header]
    found: dict[str, int] = {}
    for ours, theirs in explicit.items():
        if _key(theirs) not in keys:
            raise UserError(f"--column {ours}={theirs}: the header has no column {theirs!r} "
                            f"(it has {', '.join(header)})")
        found[ours] = keys.index(_key(theirs))
    taken = set(found.values())
    for ours in COLUMNS:
        if ours in found:
            continue
        candidates = [i for i, key in enumerate(keys)
                      if _OURS_BY_KEY.get(key) == ours and i not in taken]
        if len(candidates) > 1:
            named = " and ".join(repr(header[i]) for i in candidates)
            raise UserError(f"{where}columns {named} both look like {ours}; choose one with "
                            f"--column {ours}=COLUMN")
        if candidates:
            found[ours] = candidates[0]
    if "id" not in found:
        raise UserError(f"{where}no 'id' column (the log-in name): the header has "
                        f"{', '.join(header) or 'nothing'}; name it with --column id=COLUMN")
    roster.ignored = [cell for i, cell in enumerate(header)
                      if i not in found.values() and cell]
    return found


def _role(cell: str) -> str | None:
    return _ROLE_BY_KEY.get(_key(cell)) if cell else ""


def _row_problems(values: dict[str, str]) -> list[str]:
    problems = []
    role = _role(values.get("role", ""))
    if role is None:
        problems.append(f"role {values['role']!r} is not one of {', '.join(ROLE_ALIASES)}")
    person = {key: value for key, value in values.items() if key != "role" and value}
    try:
        Person.model_validate(person)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{error['loc'][0]}: {message} (got {error['input']!r})")
    return problems


def _duplicates(roster: RosterCsv) -> list[str]:
    """One row per person: the same id (without case, as log-in names are), sis_id or email
    (without case) on two rows."""
    problems = []
    for column in ("id", *LMS_KEYS):
        first: dict[str, CsvRow] = {}
        for row in roster.rows:
            value = row.values.get(column, "")
            key = value if column == "sis_id" else value.casefold()
            if not value:
                continue
            if key not in first:
                first[key] = row
                continue
            other = first[key].values[column]
            both = f"{roster.at(first[key].line)} and {roster.at(row.line)}"
            if other == value:
                problems.append(f"{both} both have {column} {value!r}; keep one row per person")
            else:
                problems.append(f"{both} have {column}s {other!r} and {value!r}, the same "
                                f"{'log-in name' if column == 'id' else column} (case is "
                                "ignored); keep one row per person")
    return problems


def read_roster_csv(path: Path, columns: dict[str, str] | None = None) -> RosterCsv:
    """The rows of a roster CSV in our columns; a UserError names every problem found."""
    roster = RosterCsv(Path(path))
    text = _decode(roster.path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header = [cell.strip() for cell in next(reader, [])]
    mapping = _mapping(roster, header, columns or {})
    problems, line = [], reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or Excel's ";;;;"
        extra = [cell for cell in cells[len(header):] if cell.strip()]
        if len(cells) < len(header) or extra:
            problems.append(f"{roster.at(start)}: {len(cells)} cells, but the header has "
                            f"{len(header)} (a separator missing, or one inside a name?)")
            continue
        values = {ours: cells[i].strip() for ours, i in mapping.items()}
        if not values["id"]:
            problems.append(f"{roster.at(start)}: id is empty")
            continue
        problems += [f"{roster.at(start)}: {problem}" for problem in _row_problems(values)]
        values["role"] = _role(values.get("role", "")) or ""
        roster.rows.append(CsvRow(start, values))
    problems += _duplicates(roster)
    if problems:
        more = len(problems) - MAX_REPORTED
        raise UserError("\n".join(problems[:MAX_REPORTED]
                                  + ([f"... and {more} more"] if more > 0 else [])))
    return roster

"""``course roster list``: the roster as the course file holds it, one row per person, as a
table, JSON or CSV. The CSV has ``course roster import``'s columns, so it reads back as it is."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from .csv_cells import SafeWriter
from .roster_csv import COLUMNS

if TYPE_CHECKING:
    from rich.table import Table

    from .coursefile import Course

__all__ = ["roster_csv", "roster_json", "roster_rows", "roster_table"]

ROLES = (("students", "student"), ("instructors", "instructor"), ("graders", "grader"))


def roster_rows(course: Course) -> list[dict]:
    """Students, then instructors, then graders, each list in the course file's order."""
    return [{"id": person.id, "name": person.name, "first_name": person.first_name,
             "last_name": person.last_name, "email": person.email, "sis_id": person.sis_id,
             "role": role}
            for attribute, role in ROLES for person in getattr(course.roster, attribute)]


def roster_json(course: Course) -> str:
    return json.dumps(roster_rows(course), indent=2)


def roster_csv(course: Course) -> str:
    """``id,first_name,last_name,email,sis_id,role``; text a spreadsheet would run as a formula
    gets a quote in front (``csv_cells``)."""
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in roster_rows(course))
    return out.getvalue()


def roster_table(course: Course) -> Table:
    from rich.markup import escape
    from rich.table import Table

    rows = roster_rows(course)
    counts = ", ".join(f"{n} {role}{'s' if n != 1 else ''}" for _, role in ROLES
                       if (n := sum(row["role"] == role for row in rows)))
    table = Table(title=f"{course.id}: roster", caption=counts or "nobody yet",
                  caption_justify="left")
    for column in ("id", "name", "email", "sis_id", "role"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(row[column]) for column in ("id", "name", "email", "sis_id",
                                                           "role")))
    return table

"""Canvas's gradebook import CSV (Grades > Import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ASSIGNMENTS, LmsFormat

if TYPE_CHECKING:
    from ..coursefile import Person

__all__ = ["TOTALS", "Canvas"]

TOTALS = ("Total points", "Max points", "Misses", "Policy status")


class Canvas(LmsFormat):
    """``Student`` ("Last, First"), ``ID`` (Canvas's own id: left empty, Canvas then matches by
    the next two), ``SIS User ID`` (the roster's ``sis_id``), ``SIS Login ID`` (its ``email``),
    ``Section``, one column per assignment ("<title> (<id>)"), then the totals and the policy
    status. The second row is Canvas's ``Points Possible`` row; the totals and status are marked
    ``(read only)`` there, as in Canvas's own export, so an import leaves them out. An excused
    assignment is ``EX`` (Canvas's excused mark)."""

    name = "canvas"
    description = "Canvas's gradebook import CSV, with a Points Possible row"
    layout = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENTS, *TOTALS)

    def header_rows(self) -> list[list]:
        return [
            [*self.layout[:5], *(f"{title} ({aid})" for aid, title in self.assignments),
             *TOTALS],
            ["    Points Possible", "", "", "", "",
             *(self.max_points(aid) for aid, _ in self.assignments),
             *["(read only)"] * len(TOTALS)],
        ]

    def student_row(self, person: Person, student: dict) -> list:
        entries = student["assignments"]
        name = ", ".join(part for part in (person.last_name, person.first_name) if part)
        return [name or person.id, "", person.sis_id, person.email, "",
                *(self.cell(entries[aid], excused_mark="EX") for aid, _ in self.assignments),
                float(student["points"]), float(student["max_points"]), student["misses"],
                self.status(student)]

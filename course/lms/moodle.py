"""Moodle's grade import CSV (Grades > Import > CSV file)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ASSIGNMENTS, LmsFormat

if TYPE_CHECKING:
    from ..coursefile import Person

__all__ = ["Moodle"]


class Moodle(LmsFormat):
    """In the layout of Moodle's own CSV export: ``First name``, ``Last name``, ``ID number``
    (``sis_id``), ``Email address``, ``Assignment: <title> (Real)`` per assignment, ``Course
    total (Real)``, ``Policy status``. At import, map users by "ID number" or "Email address"
    and each assignment column to its grade item."""

    name = "moodle"
    description = "Moodle's grade import CSV, in the layout of Moodle's own export"
    layout = ("First name", "Last name", "ID number", "Email address", ASSIGNMENTS,
              "Course total (Real)", "Policy status")

    def header_rows(self) -> list[list]:
        return [[*self.layout[:4], *(f"Assignment: {title} (Real)" for _, title in self.assignments),
                 *self.layout[5:]]]

    def student_row(self, person: Person, student: dict) -> list:
        entries = student["assignments"]
        return [person.first_name, person.last_name, person.sis_id, person.email,
                *(self.cell(entries[aid]) for aid, _ in self.assignments),
                float(student["points"]), self.status(student)]

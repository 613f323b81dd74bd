"""The standing as a plain CSV, without an LMS's conventions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ASSIGNMENTS, LmsFormat

if TYPE_CHECKING:
    from ..coursefile import Person

__all__ = ["PlainCsv"]


class PlainCsv(LmsFormat):
    """Ids, names, one column per assignment (its id), the totals, the status and its text. No
    LMS reads it, so a student needs neither ``sis_id`` nor ``email``."""

    name = "csv"
    description = "the same data without an LMS's conventions: ids, names, scores, totals, status"
    layout = ("student", "first_name", "last_name", "email", "sis_id", ASSIGNMENTS,
              "total", "max_total", "misses", "status", "status_text")
    matches_students = False

    def header_rows(self) -> list[list]:
        return [[*self.layout[:5], *(aid for aid, _ in self.assignments), *self.layout[6:]]]

    def student_row(self, person: Person, student: dict) -> list:
        entries = student["assignments"]
        return [person.id, person.first_name, person.last_name, person.email, person.sis_id,
                *(self.cell(entries[aid]) for aid, _ in self.assignments),
                float(student["points"]), float(student["max_points"]), student["misses"],
                student["status"], student["status_text"]]

"""What an LMS export format provides: ``LmsFormat``, the base class of every format."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..csv_cells import SafeWriter
from ..errors import UserError

if TYPE_CHECKING:
    from ..coursefile import Course, Person

__all__ = ["ASSIGNMENTS", "LmsFormat"]

ASSIGNMENTS = "<assignments>"  # in a layout: one column per assignment, in course-file order


class LmsFormat:
    """One grade file an LMS imports: a CSV with a header (one row or more), then one row per
    student of the standing document (``course.standing.standing_data``).

    A format sets ``name`` (what ``course export --format`` takes; also its entry point's name in
    the group ``dl_course.lms_formats``), ``description`` (one line: which LMS, which import
    screen) and ``layout`` (its columns, ``ASSIGNMENTS`` where the per-assignment ones go), and
    overrides ``header_rows`` and ``student_row``. ``matches_students``: the LMS finds a row's
    student by the roster's ``sis_id`` or ``email``, so ``write`` refuses a roster in which a
    student has neither, and names them.

    ``write`` is the whole file: CSV cells through ``course.csv_cells`` (text a spreadsheet would
    run gets a ``'``; numbers passed as ``float`` are written as ``f"{x:g}"``), CRLF line ends.
    The helpers ``cell``, ``max_points`` and ``status`` give the numbers every format shares.
    """

    name = ""
    description = ""
    layout: tuple[str, ...] = ()
    matches_students = True

    def __init__(self, course: Course, data: dict):
        self.course, self.data = course, data
        self.assignments = [(a.id, a.title) for a in course.assignments]

    def header_rows(self) -> list[list]:
        """The rows above the students' rows."""
        raise NotImplementedError

    def student_row(self, person: Person, student: dict) -> list:
        """One student's row: ``person`` from the roster, ``student`` from the standing."""
        raise NotImplementedError

    def write(self) -> str:
        people = {p.id: p for p in self.course.roster.students}
        if self.matches_students:
            unmatched = [s["id"] for s in self.data["students"]
                         if not (people[s["id"]].sis_id or people[s["id"]].email)]
            if unmatched:
                raise UserError(f"{self.name} matches students by SIS id or email, and the "
                                f"roster has neither for {', '.join(unmatched)}: add sis_id or "
                                "email to them in the course file (or course roster import)")
        out = io.StringIO()
        writer = SafeWriter(out, float_format="g", lineterminator="\r\n")
        for row in self.header_rows():
            writer.writerow(row)
        for student in self.data["students"]:
            writer.writerow(self.student_row(people[student["id"]], student))
        return out.getvalue()

    @staticmethod
    def cell(entry: dict, *, excused_mark: str = "") -> float | str:
        """An assignment's cell: the points it counts, ``excused_mark`` if excused, else empty
        (not graded yet, pending, not released)."""
        if entry["state"] == "excused":
            return excused_mark
        return "" if entry["points"] is None else float(entry["points"])

    def max_points(self, assignment_id: str) -> float | str:
        """What an assignment is out of; empty if nobody knows yet."""
        points = self.data["max_points"].get(assignment_id)
        return "" if points is None else float(points)

    @staticmethod
    def status(student: dict) -> str:
        """The policy status as a sentence (``status_text``), else its short name."""
        return student["status_text"] or student["status"]

"""``course export``: the standing as a grade file an LMS imports, one row per student.

Formats (their column layouts are in ``LAYOUTS``; the tests hold the files to them):

``canvas``  Canvas's gradebook import CSV: ``Student`` ("Last, First"), ``ID`` (Canvas's own id:
            left empty, Canvas then matches by the next two), ``SIS User ID`` (the roster's
            ``sis_id``), ``SIS Login ID`` (the roster's ``email``), ``Section``, one column per
            assignment, then the totals and the policy status. The second row is Canvas's
            ``Points Possible`` row; the totals and status are marked ``(read only)`` there, as
            in Canvas's own export, so an import leaves them out. An excused assignment is
            ``EX`` (Canvas's excused mark).
``moodle``  Moodle's grade import CSV (Grades > Import > CSV file) in the layout of Moodle's own
            CSV export: ``First name``, ``Last name``, ``ID number`` (``sis_id``),
            ``Email address``, ``Assignment: <title> (Real)`` per assignment, ``Course total
            (Real)``, ``Policy status``. At import, map users by "ID number" or "Email address"
            and each assignment column to its grade item.
``csv``     the same data without an LMS's conventions: ids, names, scores, totals, status.

Every number is the policy's (``course.policy``: ``points`` and ``max_points``), the same that
``course status`` and the dashboard show: a cell is the points the assignment counts (a score,
graded or set by hand; 0 for a missed assignment or an unreadable notebook); work not graded
yet, pending and unreleased assignments are empty. The total is the sum of the cells, out of
the points of every assignment with a number in its cell (a missed one adds its points to the
maximum). A student with neither ``sis_id`` nor ``email`` cannot be matched by an LMS: the
export is refused and names them.

Text a spreadsheet would run as a formula (a name beginning with ``=``, ``+``, ``-`` or ``@``) is
written with a ``'`` in front (``course.csv_cells``); scores and totals are passed as numbers, so
they are written bare (``f"{x:g}"``) and stay numbers.
"""

from __future__ import annotations

import io

from .coursefile import Course
from .csv_cells import SafeWriter
from .errors import UserError

__all__ = ["FORMATS", "LAYOUTS", "export_grades"]

FORMATS = ("canvas", "moodle", "csv")
TOTALS = ("Total points", "Max points", "Misses", "Policy status")
LAYOUTS = {
    "canvas": ("Student", "ID", "SIS User ID", "SIS Login ID", "Section", "<assignments>",
               *TOTALS),
    "moodle": ("First name", "Last name", "ID number", "Email address", "<assignments>",
               "Course total (Real)", "Policy status"),
    "csv": ("student", "first_name", "last_name", "email", "sis_id", "<assignments>",
            "total", "max_total", "misses", "status", "status_text"),
}


def _cell(entry: dict, *, excused_mark: str = "") -> float | str:
    if entry["state"] == "excused":
        return excused_mark
    return "" if entry["points"] is None else float(entry["points"])


def _max_points(data: dict, assignment_id: str) -> float | str:
    points = data["max_points"].get(assignment_id)
    return "" if points is None else float(points)


def _status(student: dict) -> str:
    return student["status_text"] or student["status"]


def export_grades(course: Course, data: dict, fmt: str) -> str:
    """The standing document (``standing_data``) as ``fmt`` (one of ``FORMATS``)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    people = {p.id: p for p in course.roster.students}
    if fmt != "csv":
        unmatched = [s["id"] for s in data["students"]
                     if not (people[s["id"]].sis_id or people[s["id"]].email)]
        if unmatched:
            raise UserError(f"{fmt} matches students by SIS id or email, and the roster has "
                            f"neither for {', '.join(unmatched)}: add sis_id or email to them "
                            "in the course file (or course roster import)")
    assignments = [(a.id, a.title) for a in course.assignments]
    out = io.StringIO()
    writer = SafeWriter(out, float_format="g", lineterminator="\r\n")
    if fmt == "canvas":
        writer.writerow([*LAYOUTS["canvas"][:5], *(f"{title} ({aid})" for aid, title in
                                                  assignments), *TOTALS])
        writer.writerow(["    Points Possible", "", "", "", "",
                         *(_max_points(data, aid) for aid, _ in assignments),
                         *["(read only)"] * len(TOTALS)])
    elif fmt == "moodle":
        writer.writerow([*LAYOUTS["moodle"][:4],
                         *(f"Assignment: {title} (Real)" for _, title in assignments),
                         *LAYOUTS["moodle"][5:]])
    else:
        writer.writerow([*LAYOUTS["csv"][:5], *(aid for aid, _ in assignments),
                         *LAYOUTS["csv"][6:]])
    for student in data["students"]:
        person = people[student["id"]]
        entries = student["assignments"]
        got, possible = float(student["points"]), float(student["max_points"])
        if fmt == "canvas":
            name = ", ".join(part for part in (person.last_name, person.first_name) if part)
            writer.writerow([name or person.id, "", person.sis_id, person.email, "",
                             *(_cell(entries[aid], excused_mark="EX") for aid, _ in assignments),
                             got, possible, student["misses"], _status(student)])
        elif fmt == "moodle":
            writer.writerow([person.first_name, person.last_name, person.sis_id, person.email,
                             *(_cell(entries[aid]) for aid, _ in assignments), got,
                             _status(student)])
        else:
            writer.writerow([person.id, person.first_name, person.last_name, person.email,
                             person.sis_id, *(_cell(entries[aid]) for aid, _ in assignments),
                             got, possible, student["misses"], student["status"],
                             student["status_text"]])
    return out.getvalue()

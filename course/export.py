"""``course export``: the standing as a grade file an LMS imports, one row per student.

The formats are classes (``course.lms``: ``LmsFormat`` and one module per format) found by name
through the entry point group ``dl_course.lms_formats``; ``FORMATS`` is that registry. The
built-in ones, with their column layouts in ``LAYOUTS`` (the tests hold the files to them):

``canvas``  Canvas's gradebook import CSV (``course.lms.canvas``): ``Student`` ("Last, First"),
            ``ID`` (left empty), ``SIS User ID`` (``sis_id``), ``SIS Login ID`` (``email``),
            ``Section``, one column per assignment, the totals and the policy status; a
            ``Points Possible`` row; an excused assignment is ``EX``.
``moodle``  Moodle's grade import CSV in the layout of Moodle's own export
            (``course.lms.moodle``); map users by "ID number" or "Email address" at import.
``csv``     the same data without an LMS's conventions (``course.lms.plain_csv``).

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

from .coursefile import Course
from .lms import LMS_FORMATS
from .lms.canvas import TOTALS, Canvas
from .lms.moodle import Moodle
from .lms.plain_csv import PlainCsv

__all__ = ["FORMATS", "LAYOUTS", "TOTALS", "export_grades"]

FORMATS = LMS_FORMATS  # name -> LmsFormat subclass, every installed one
LAYOUTS = {cls.name: cls.layout for cls in (Canvas, Moodle, PlainCsv)}  # the built-in ones


def export_grades(course: Course, data: dict, fmt: str) -> str:
    """The standing document (``standing_data``) as the format named ``fmt`` (a name in
    ``FORMATS``; another raises ``UserError`` listing them)."""
    return FORMATS[fmt](course, data).write()

"""CSV cells a spreadsheet shows as text and never runs as a formula (CSV injection).

Students edit their names in the LMS, and roster fields reach the CSV files the platform writes
(``course export``, ``course status --format csv``, ``reports/status.csv``). A spreadsheet that
opens such a file evaluates a cell beginning with ``=``, ``+``, ``-`` or ``@`` (and, in some, one
beginning with a tab or a carriage return) as a formula: ``=HYPERLINK(...)`` in a first name
becomes a link on the grader's screen.

The rule (OWASP's): a *text* cell, a ``str``, that begins with one of ``FORMULA_STARTS`` is
written with a single quote in front, ``'=HYPERLINK(...)``; the rest of the text is kept as it
was. The quote shows in the cell and says the text was not the spreadsheet's to run.

Numbers are left alone: an ``int`` or ``float`` (a score, a total, a count of misses) is a value
the platform computed, not text from a user, so a negative score stays the number ``-2.5``. The
type is what tells them apart: a string that merely looks like a number (a roster's ``"+1"`` or
``"-1+2"``) is text and gets the quote. So writers pass the numbers they compute as numbers,
never pre-formatted: ``SafeWriter(float_format="g")`` formats floats as ``f"{x:g}"`` would.
``None``, booleans and other values go to the ``csv`` module unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

__all__ = ["FORMULA_STARTS", "SafeDictWriter", "SafeWriter", "safe_cell"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``safe_cell``.

    ``float_format``: a format spec for floats (``"g"``); without it the ``csv`` module writes
    them as it always does (``repr``). The other keywords are ``csv.writer``'s.
    """

    def __init__(self, out, *, float_format: str | None = None, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)
        self._float_format = float_format

    def _cell(self, value: Any) -> Any:
        if self._float_format is not None and isinstance(value, float):
            return format(value, self._float_format)
        return safe_cell(value)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([self._cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every value goes through ``safe_cell``."""

    def writerow(self, rowdict: dict) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[dict]) -> None:
        for rowdict in rowdicts:  # csv.DictWriter.writerows would skip writerow
            self.writerow(rowdict)

"""CSV injection: roster text that a spreadsheet would run as a formula is written with a ``'``
in front by every CSV writer (course/csv_cells.py); the numbers the platform computes stay
numbers."""

from __future__ import annotations

import csv
import io

import pytest
from small_courses import utc

from commands.main import main
from course.csv_cells import FORMULA_STARTS, safe_cell
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.workspace import open_workspace

EVIL = {
    "first_name": '=HYPERLINK("http://evil","x")',
    "last_name": "+1",
    "email": "=cmd@example.org",  # an email, yet a formula to a spreadsheet
    "sis_id": "-1+2",
}
COURSE = f"""\
id: dl-injection
title: Deep Learning (injection)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {{id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}}
  - {{id: 02-bonus, title: '=Bonus', due: 2026-12-20 18:00}}
roster:
  instructors:
    - {{id: ina}}
  students:
    - {{id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org, sis_id: S-1001}}
    - {{id: eve, first_name: '{EVIL["first_name"]}', last_name: '{EVIL["last_name"]}',
        email: '{EVIL["email"]}', sis_id: '{EVIL["sis_id"]}'}}
"""
AS_OF = "2026-11-20 12:00"
NEGATIVE_SCORE = "-2.5"  # a score the platform computed: a number, written bare


@pytest.fixture
def course(make_course):
    root = make_course(COURSE)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        record_release(gb, "01-numpy", "0" * 64, now=utc(2026, 10, 19, 12))
        receipt = add_receipt(gb, student_id="eve", assignment_id="01-numpy",
                              received_at=utc(2026, 10, 24, 9), sha256="e" * 64, size_bytes=10,
                              storage_path="inbox/x", client_timestamp=None)
        gb.commit()
        run = start_run(gb, "eve", "01-numpy", receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=float(NEGATIVE_SCORE), max_score=10.0)
    return root


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_no_formulas(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would run: each starts with a formula character only behind a
    ``'``, or is the computed negative score."""
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or cell == NEGATIVE_SCORE, (cell, row)


def _run(capsys, *argv: str) -> str:
    assert main([*argv, "--as-of", AS_OF]) == 0
    return capsys.readouterr().out


def test_safe_cell_quotes_text_only():
    for start in FORMULA_STARTS:
        assert safe_cell(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"
    assert safe_cell("Ada Lovelace") == "Ada Lovelace" and safe_cell("") == ""
    assert safe_cell("-1+2") == "'-1+2" and safe_cell("+1") == "'+1"  # text, though number-like
    assert safe_cell(-2.5) == -2.5 and safe_cell(-3) == -3  # numbers stay numbers
    assert safe_cell(None) is None and safe_cell(False) is False


def test_canvas_export_quotes_roster_formulas(course, capsys):
    rows = _rows(_run(capsys, "export", "--format", "canvas", "--course", str(course)))
    _assert_no_formulas(rows)
    header, _points, _ada, eve = rows
    assert "'=Bonus (02-bonus)" in header
    eve = dict(zip(header, eve, strict=True))
    assert eve["Student"] == f"'{EVIL['last_name']}, {EVIL['first_name']}"
    assert (eve["SIS User ID"], eve["SIS Login ID"]) == (f"'{EVIL['sis_id']}", f"'{EVIL['email']}")
    assert (eve["NumPy (01-numpy)"], eve["Total points"]) == (NEGATIVE_SCORE, NEGATIVE_SCORE)


def test_moodle_export_quotes_roster_formulas(course, capsys):
    rows = _rows(_run(capsys, "export", "--format", "moodle", "--course", str(course)))
    _assert_no_formulas(rows)
    assert rows[2] == [f"'{EVIL['first_name']}", f"'{EVIL['last_name']}", f"'{EVIL['sis_id']}",
                       f"'{EVIL['email']}", NEGATIVE_SCORE, "", NEGATIVE_SCORE, "ok"]


def test_plain_csv_export_quotes_roster_formulas(course, tmp_path, capsys):
    out = tmp_path / "grades.csv"
    _run(capsys, "export", "--format", "csv", "--course", str(course), "--out", str(out))
    rows = _rows(out.read_text(encoding="utf-8"))
    _assert_no_formulas(rows)
    eve = dict(zip(rows[0], rows[2], strict=True))
    assert {key: eve[key] for key in EVIL} == {key: f"'{text}" for key, text in EVIL.items()}
    assert (eve["student"], eve["01-numpy"], eve["total"]) == ("eve", NEGATIVE_SCORE,
                                                                NEGATIVE_SCORE)


def _assert_status_rows(text: str) -> None:
    rows = _rows(text)
    _assert_no_formulas(rows)
    by_key = {(r["student"], r["assignment"]): r for r in csv.DictReader(io.StringIO(text))}
    eve = by_key[("eve", "01-numpy")]
    assert eve["name"] == f"'{EVIL['first_name']} {EVIL['last_name']}"
    assert (eve["score"], eve["max_score"]) == (NEGATIVE_SCORE, "10.0")


def test_status_csv_quotes_roster_formulas(course, capsys):
    _assert_status_rows(_run(capsys, "status", "--format", "csv", "--course", str(course)))


def test_report_status_csv_quotes_roster_formulas(course, tmp_path, capsys):
    _run(capsys, "report", "--out", str(tmp_path / "rep"), "--course", str(course))
    _assert_status_rows((tmp_path / "rep" / "status.csv").read_text(encoding="utf-8"))

"""``course export``: each format against its documented column layout (course/export.py)."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import utc

from course.cli import main
from course.export import LAYOUTS, TOTALS, export_grades
from course.gradebook.records import (
    add_receipt,
    finish_run,
    grant_excuse,
    record_release,
    start_run,
)
from course.standing import standing_data
from course.workspace import open_workspace

COURSE = """\
id: dl-export
title: Deep Learning (export)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}
  - {id: 02-linreg, title: Linear regression, due: 2026-11-01 18:00}
  - {id: 03-mlp, title: MLP, due: 2026-12-20 18:00}
policy: {excused_misses: 1}
roster:
  instructors:
    - {id: ina}
  students:
    - {id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org, sis_id: S-1001}
    - {id: ben, first_name: Ben, last_name: Bitdiddle, sis_id: S-1002}
    - {id: cleo, first_name: Cleo, last_name: Codd, email: cleo@example.org}
"""
AS_OF = "2026-11-20 12:00"


@pytest.fixture
def course(make_course):
    root = make_course(COURSE)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for aid, day in (("01-numpy", 19), ("02-linreg", 26)):
            record_release(gb, aid, "0" * 64, now=utc(2026, 10, day, 12))
        receipt = add_receipt(gb, student_id="ada", assignment_id="01-numpy",
                              received_at=utc(2026, 10, 24, 9), sha256="a" * 64, size_bytes=10,
                              storage_path="inbox/x", client_timestamp=None)
        gb.commit()
        run = start_run(gb, "ada", "01-numpy", receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=7.5, max_score=10.0)
        grant_excuse(gb, "ada", "02-linreg", "ill", by="ina")
        gb.commit()
    return root


def _export(capsys, root, fmt: str) -> list[list[str]]:
    assert main(["export", "--format", fmt, "--as-of", AS_OF, "--course", str(root)]) == 0
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


def test_canvas_gradebook_import_layout(course, capsys):
    rows = _export(capsys, course, "canvas")
    header, points, *students = rows
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                      "NumPy (01-numpy)", "Linear regression (02-linreg)", "MLP (03-mlp)",
                      *TOTALS]
    assert tuple(header[:5]) == LAYOUTS["canvas"][:5]
    assert points[0].strip() == "Points Possible" and points[5] == "10"
    assert points[-len(TOTALS):] == ["(read only)"] * len(TOTALS)  # an import skips them
    by_sis = {row[2]: dict(zip(header, row, strict=True)) for row in students}
    ada = by_sis["S-1001"]
    assert (ada["Student"], ada["ID"], ada["SIS Login ID"]) == ("Lovelace, Ada", "",
                                                                 "ada@example.org")
    assert (ada["NumPy (01-numpy)"], ada["Linear regression (02-linreg)"],
            ada["MLP (03-mlp)"]) == ("7.5", "EX", "")  # EX: Canvas's excused mark
    assert (ada["Total points"], ada["Max points"], ada["Misses"]) == ("7.5", "10", "0")
    ben = by_sis["S-1002"]  # matched by SIS id alone (no email)
    assert (ben["NumPy (01-numpy)"], ben["Linear regression (02-linreg)"]) == ("0", "0")
    assert ben["Policy status"] == "must be excluded by 2026-12-01"
    assert by_sis[""]["SIS Login ID"] == "cleo@example.org"  # cleo: by email


def test_moodle_grade_import_layout(course, capsys):
    header, *students = _export(capsys, course, "moodle")
    assert header == ["First name", "Last name", "ID number", "Email address",
                      "Assignment: NumPy (Real)", "Assignment: Linear regression (Real)",
                      "Assignment: MLP (Real)", "Course total (Real)", "Policy status"]
    assert tuple(header[:4]) == LAYOUTS["moodle"][:4]
    assert tuple(header[-2:]) == LAYOUTS["moodle"][-2:]
    assert students[0] == ["Ada", "Lovelace", "S-1001", "ada@example.org", "7.5", "", "", "7.5",
                           "ok"]
    assert students[1][:4] == ["Ben", "Bitdiddle", "S-1002", ""]


def test_plain_csv_layout_and_out_file(course, tmp_path, capsys):
    out = tmp_path / "grades.csv"
    assert main(["export", "--format", "csv", "--as-of", AS_OF, "--course", str(course),
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    header, *students = list(csv.reader(io.StringIO(out.read_text())))
    assert header == [*LAYOUTS["csv"][:5], "01-numpy", "02-linreg", "03-mlp", *LAYOUTS["csv"][6:]]
    assert [row[0] for row in students] == ["ada", "ben", "cleo"]
    assert students[1][-2:] == ["exclude", "must be excluded by 2026-12-01"]


def test_an_lms_export_names_students_it_cannot_match(make_course, capsys):
    root = make_course(COURSE.replace(", email: cleo@example.org", ""))
    assert main(["export", "--format", "canvas", "--as-of", AS_OF, "--course", str(root)]) == 2
    captured = capsys.readouterr()
    assert "neither for cleo" in captured.err and captured.out == ""
    ws = open_workspace(root)  # the plain CSV needs no match
    data = standing_data(ws, utc(2026, 11, 20, 11))
    assert export_grades(ws.course, data, "csv").count("\r\n") == 4


def test_sis_ids_come_in_with_the_roster_import(course, tmp_path, capsys):
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name,email,sis_id\ncleo,Cleo,Codd,,S-1003\n")
    assert main(["roster", "import", str(people), "--course", str(course)]) == 0
    assert "1 updated" in capsys.readouterr().out
    header, _points, *students = _export(capsys, course, "canvas")
    cleo = dict(zip(header, students[2], strict=True))
    assert (cleo["SIS User ID"], cleo["SIS Login ID"]) == ("S-1003", "cleo@example.org")

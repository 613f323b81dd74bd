"""``course export``: each format against its documented column layout (course/export.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from small_courses import utc

from commands.main import main
from course.export import LAYOUTS, TOTALS, export_grades
from course.gradebook.records import (
    add_receipt,
    finish_run,
    grant_excuse,
    record_release,
    set_override,
    start_run,
)
from course.standing import standing_data
from course.workspace import open_workspace
from dashboard.data import assignment_page, course_page
from dashboard.pages import standing_rows

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


# ---- totals: every export, status and the dashboard count the same points (issue 23) ----

def _grade(gb, student, assignment, when, score, max_score=10.0):
    receipt = add_receipt(gb, student_id=student, assignment_id=assignment, received_at=when,
                          sha256="b" * 64, size_bytes=10, storage_path="inbox/y",
                          client_timestamp=None)
    gb.commit()
    run = start_run(gb, student, assignment, receipt.id, "sandboxed-pytest", "v1")
    finish_run(gb, run, "success", score=score, max_score=max_score)
    gb.commit()


@pytest.fixture
def graded(course):
    """ada: 7.5/10 and excused; ben: missed 01-numpy, 10/10 on 02-linreg; cleo missed both."""
    with open_workspace(course).gradebook() as gb:
        _grade(gb, "ben", "02-linreg", utc(2026, 10, 31, 9), 10.0)
    return course


def _by_column(rows: list[list[str]], key: int) -> dict[str, dict[str, str]]:
    header, *students = rows
    return {row[key]: dict(zip(header, row, strict=True)) for row in students}


def _status(capsys, root) -> dict:
    assert main(["status", "--format", "json", "--as-of", AS_OF, "--course", str(root)]) == 0
    return {s["id"]: s for s in json.loads(capsys.readouterr().out)["students"]}


def test_a_missed_assignment_adds_its_points_to_the_maximum_everywhere(graded, capsys):
    header, points, *students = _export(capsys, graded, "canvas")
    assert points[5:8] == ["10", "10", ""]  # 03-mlp is not released: no points yet
    canvas = _by_column([header, *students], 2)
    ben, cleo = canvas["S-1002"], {**canvas[""]}
    assert (ben["NumPy (01-numpy)"], ben["Linear regression (02-linreg)"]) == ("0", "10")
    assert (ben["Total points"], ben["Max points"]) == ("10", "20")  # not 10/10
    assert (cleo["Total points"], cleo["Max points"]) == ("0", "20")  # not 0/0
    assert (canvas["S-1001"]["Total points"], canvas["S-1001"]["Max points"]) == ("7.5", "10")
    moodle = _by_column(_export(capsys, graded, "moodle"), 0)
    assert moodle["Ben"]["Course total (Real)"] == "10"
    plain = _by_column(_export(capsys, graded, "csv"), 0)
    assert [(plain[s]["total"], plain[s]["max_total"]) for s in ("ada", "ben", "cleo")] == \
        [("7.5", "10"), ("10", "20"), ("0", "20")]

    status = _status(capsys, graded)  # course status says the same
    assert [(status[s]["points"], status[s]["max_points"]) for s in ("ada", "ben", "cleo")] == \
        [(7.5, 10.0), (10.0, 20.0), (0.0, 20.0)]
    assert status["ben"]["assignments"]["01-numpy"]["points"] == 0.0
    assert main(["status", "--as-of", AS_OF, "--course", str(graded)]) == 0
    table = capsys.readouterr().out
    assert "points" in table and "10/20" in table and "0/20" in table

    ws = open_workspace(graded)  # and so does the dashboard's overview
    page = course_page(ws, utc(2026, 11, 20, 11))
    rows = standing_rows(page["standing"], page["assignments"], "/")
    assert ">10/20<" in rows and ">0/20<" in rows and ">7.5/10<" in rows


def test_the_points_of_an_assignment_nobody_was_graded_on_come_from_nbgrader(course, capsys):
    ws = open_workspace(course)
    with ws.gradebook() as gb:  # what course generate writes: 02-linreg's cells, 12 points
        gb.nb.update_or_create_assignment("02-linreg")
        gb.nb.add_notebook("linreg", "02-linreg")
        for name, points in (("c1", 5), ("c2", 7)):
            gb.nb.add_grade_cell(name, "linreg", "02-linreg", max_score=points, cell_type="code")
        gb.nb.db.commit()
    header, points, *students = _export(capsys, course, "canvas")
    assert points[5:7] == ["10", "12"]  # 01-numpy's from ada's grading
    cleo = _by_column([header, *students], 2)[""]
    assert (cleo["Total points"], cleo["Max points"]) == ("0", "22")


def test_a_score_set_by_hand_on_a_missed_assignment_is_work_handed_in_another_way(graded, capsys):
    ws = open_workspace(graded)
    with ws.gradebook() as gb:
        set_override(gb, "cleo", "01-numpy", 6.0, "handed in on paper",
                     now=utc(2026, 11, 3, 9), by="ina")
        gb.commit()
    cleo = _status(capsys, graded)["cleo"]
    entry = cleo["assignments"]["01-numpy"]
    assert (entry["state"], entry["score"], entry["max_score"], entry["counts_as_miss"]) == \
        ("by_hand", 6.0, 10.0, False)  # not missing, not a miss
    assert entry["override"] == "set by ina on 2026-11-03: handed in on paper"
    assert (cleo["misses"], cleo["status"]) == (1, "at_risk")  # only 02-linreg is missed
    assert (cleo["points"], cleo["max_points"]) == (6.0, 20.0)

    header, _points, *students = _export(capsys, graded, "canvas")
    row = _by_column([header, *students], 2)[""]
    assert row["NumPy (01-numpy)"] == "6"  # the cell and the total count it alike
    assert (row["Total points"], row["Max points"], row["Misses"]) == ("6", "20", "1")
    assert row["Policy status"] == "one more miss means exclusion"
    plain = _by_column(_export(capsys, graded, "csv"), 0)["cleo"]
    assert (plain["01-numpy"], plain["total"], plain["misses"]) == ("6", "6", "1")

    now = utc(2026, 11, 20, 11)  # the dashboard: not among the missing, shown as by hand
    assignment = assignment_page(ws, "01-numpy", now)
    assert "cleo" not in assignment["missing"] and "ben" in assignment["missing"]
    page = course_page(ws, now)
    rows = standing_rows(page["standing"], page["assignments"], "/")
    assert "by hand 6/10*" in rows
    assert [s["id"] for s in page["at_risk"]] == ["ben", "cleo"] and not page["exclude"]

"""LMS export formats are classes found through the entry point group dl_course.lms_formats
(course/lms): the built-in ones write the same bytes as before they were classes, and a new
format is one class and one entry point line."""

from __future__ import annotations

import pytest
from plugin_dists import plugin_installer
from small_courses import utc

from course.errors import UserError
from course.export import FORMATS, LAYOUTS, export_grades
from course.gradebook.records import (
    add_receipt,
    finish_run,
    grant_excuse,
    record_release,
    start_run,
)
from course.lms import GROUP, LmsFormat
from course.standing import standing_data
from course.workspace import open_workspace

COURSE = """\
id: dl-formats
title: Deep Learning (formats)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}
  - {id: 02-linreg, title: "Linear regression, part 1", due: 2026-11-01 18:00}
  - {id: 03-mlp, title: MLP, due: 2026-12-20 18:00}
policy: {excused_misses: 1, late: accepted}
roster:
  instructors:
    - {id: ina}
  students:
    - {id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org, sis_id: S-1001}
    - {id: ben, first_name: "=HYPERLINK(1)", last_name: Bitdiddle, sis_id: "+1002"}
    - {id: cleo, first_name: Cleo, last_name: Codd, email: cleo@example.org}
    - {id: dan, last_name: "O'Neil", email: dan@example.org}
"""

# what course/export.py wrote for this standing before the formats were classes (its if/elif
# version at f2f79ec), byte for byte: CRLF, quoting, a ' before formulas, numbers as :g
GOLDEN = {
    "canvas": (
        'Student,ID,SIS User ID,SIS Login ID,Section,NumPy (01-numpy),"Linear regression, part 1 '
        '(02-linreg)",MLP (03-mlp),Total points,Max points,Misses,Policy status\r\n'
        "    Points Possible,,,,,10,,,(read only),(read only),(read only),(read only)\r\n"
        '"Lovelace, Ada",,S-1001,ada@example.org,,7.5,EX,,7.5,10,0,ok\r\n'
        '"Bitdiddle, =HYPERLINK(1)",,\'+1002,,,6.25,0,,6.25,10,1,one more miss means exclusion'
        "\r\n"
        '"Codd, Cleo",,,cleo@example.org,,10,,,10,10,0,ok\r\n'
        "O'Neil,,,dan@example.org,,0,0,,0,10,2,must be excluded by 2026-12-01\r\n"),
    "moodle": (
        'First name,Last name,ID number,Email address,Assignment: NumPy (Real),"Assignment: '
        'Linear regression, part 1 (Real)",Assignment: MLP (Real),Course total (Real),'
        "Policy status\r\n"
        "Ada,Lovelace,S-1001,ada@example.org,7.5,,,7.5,ok\r\n"
        "'=HYPERLINK(1),Bitdiddle,'+1002,,6.25,0,,6.25,one more miss means exclusion\r\n"
        "Cleo,Codd,,cleo@example.org,10,,,10,ok\r\n"
        ",O'Neil,,dan@example.org,0,0,,0,must be excluded by 2026-12-01\r\n"),
    "csv": (
        "student,first_name,last_name,email,sis_id,01-numpy,02-linreg,03-mlp,total,max_total,"
        "misses,status,status_text\r\n"
        "ada,Ada,Lovelace,ada@example.org,S-1001,7.5,,,7.5,10,0,ok,\r\n"
        "ben,'=HYPERLINK(1),Bitdiddle,,'+1002,6.25,0,,6.25,10,1,at_risk,"
        "one more miss means exclusion\r\n"
        "cleo,Cleo,Codd,cleo@example.org,,10,,,10,10,0,ok,\r\n"
        "dan,,O'Neil,dan@example.org,,0,0,,0,10,2,exclude,must be excluded by 2026-12-01\r\n"),
}


def _hand_in(gb, student, assignment, when, score=None):
    receipt = add_receipt(gb, student_id=student, assignment_id=assignment, received_at=when,
                          sha256="c" * 64, size_bytes=10, storage_path=f"inbox/{student}",
                          client_timestamp=None)
    gb.commit()
    if score is not None:
        run = start_run(gb, student, assignment, receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=score, max_score=10.0)
        gb.commit()


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    yield from plugin_installer(tmp_path, monkeypatch)


@pytest.fixture
def standing(make_course):
    """ada: 7.5 and excused; ben: 6.25 handed in late (accepted), then nothing; cleo: 10, and
    02-linreg handed in, not graded yet; dan: missed both. 03-mlp is not released."""
    ws = open_workspace(make_course(COURSE))
    with ws.gradebook() as gb:
        for aid, day in (("01-numpy", 19), ("02-linreg", 26)):
            record_release(gb, aid, "0" * 64, now=utc(2026, 10, day, 12))
        _hand_in(gb, "ada", "01-numpy", utc(2026, 10, 24, 9), 7.5)
        grant_excuse(gb, "ada", "02-linreg", "ill", by="ina")
        gb.commit()
        _hand_in(gb, "ben", "01-numpy", utc(2026, 10, 25, 17, 0, 1), 6.25)
        _hand_in(gb, "cleo", "01-numpy", utc(2026, 10, 25, 8), 10.0)
        _hand_in(gb, "cleo", "02-linreg", utc(2026, 11, 1, 8))
    return ws.course, standing_data(ws, utc(2026, 11, 20, 11))


@pytest.mark.parametrize("fmt", ["canvas", "moodle", "csv"])
def test_each_built_in_format_writes_the_same_bytes_as_before(standing, fmt):
    assert export_grades(*standing, fmt) == GOLDEN[fmt]


def test_the_built_in_formats_are_registered_as_entry_points_like_any_plug_in():
    assert list(FORMATS)[:3] == ["canvas", "moodle", "csv"]  # as the README lists them
    for name in ("canvas", "moodle", "csv"):
        cls = FORMATS[name]
        assert issubclass(cls, LmsFormat) and cls.name == name and cls.description
        assert cls.layout == LAYOUTS[name]
    with pytest.raises(UserError, match=r"unknown export format 'xlsx': choose one of "
                                        r"canvas, moodle, csv$"):
        export_grades(None, {}, "xlsx")


BRIGHTSPACE = '''
    from course.lms import LmsFormat

    class Brightspace(LmsFormat):
        """D2L Brightspace's grade import: the org-defined id, '<item> Points Grade' columns,
        and its end-of-line indicator."""

        name = "brightspace"
        description = "D2L Brightspace's grade import CSV"
        layout = ("OrgDefinedId", "<assignments>", "End-of-Line Indicator")

        def header_rows(self):
            return [["OrgDefinedId", *(f"{title} Points Grade" for _, title in self.assignments),
                     "End-of-Line Indicator"]]

        def student_row(self, person, student):
            cells = student["assignments"]
            return [person.sis_id or person.email,
                    *(self.cell(cells[aid]) for aid, _ in self.assignments), "#"]
'''


def test_a_new_format_is_one_class_and_one_entry_point(standing, install_plugin):
    with pytest.raises(UserError, match="choose one of canvas, moodle, csv$"):
        export_grades(*standing, "brightspace")
    install_plugin("d2l-grades", modules={"d2l_grades": BRIGHTSPACE},
                   entry_points={GROUP: {"brightspace": "d2l_grades:Brightspace"}})
    assert list(FORMATS) == ["canvas", "moodle", "csv", "brightspace"]
    lines = export_grades(*standing, "brightspace").split("\r\n")
    assert lines[0] == ('OrgDefinedId,NumPy Points Grade,"Linear regression, part 1 Points '
                        'Grade",MLP Points Grade,End-of-Line Indicator')
    assert lines[1:5] == ["S-1001,7.5,,,#", "'+1002,6.25,0,,#", "cleo@example.org,10,,,#",
                          "dan@example.org,0,0,,#"]
    with pytest.raises(UserError, match="choose one of canvas, moodle, csv, brightspace$"):
        export_grades(*standing, "xlsx")


def test_a_plug_in_format_matches_students_like_the_built_in_ones(make_course, install_plugin):
    install_plugin("d2l-grades", modules={"d2l_grades": BRIGHTSPACE},
                   entry_points={GROUP: {"brightspace": "d2l_grades:Brightspace"}})
    ws = open_workspace(make_course(COURSE.replace(", email: dan@example.org", "")))
    data = standing_data(ws, utc(2026, 11, 20, 11))
    with pytest.raises(UserError, match="brightspace matches students by SIS id or email, and "
                                        "the roster has neither for dan"):
        export_grades(ws.course, data, "brightspace")


def test_an_entry_point_that_is_no_format_is_refused_by_name(standing, install_plugin):
    install_plugin("not-a-format", modules={"not_a_format": "class Xlsx:\n    name = 'xlsx'\n"},
                   entry_points={GROUP: {"xlsx": "not_a_format:Xlsx"}})
    with pytest.raises(UserError, match=r"the export format 'xlsx' \(not_a_format:Xlsx, entry "
                                        r"point group dl_course.lms_formats\) is not a subclass "
                                        "of LmsFormat"):
        export_grades(*standing, "xlsx")
    assert export_grades(*standing, "csv") == GOLDEN["csv"]  # the others still work


def test_course_export_takes_a_plug_in_format(make_course, install_plugin, capsys):
    from commands.main import main

    install_plugin("d2l-grades", modules={"d2l_grades": BRIGHTSPACE},
                   entry_points={GROUP: {"brightspace": "d2l_grades:Brightspace"}})
    root = make_course(COURSE)
    assert main(["export", "--format", "brightspace", "--as-of", "2026-11-20 12:00",
                 "--course", str(root)]) == 0
    assert capsys.readouterr().out.startswith("OrgDefinedId,NumPy Points Grade,")
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--format", "xlsx", "--course", str(root)])
    assert exit_.value.code == 2

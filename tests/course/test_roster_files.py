"""Roster files as they come (issue 23, item 10): Excel's semicolon CSV, LMS exports' headers,
problems named at the CSV's row, a role the course file disagrees with, ``--dry-run``, and an
import that changes only the lines of the people it adds or changes."""

from __future__ import annotations

import codecs
import difflib

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.coursefile import load_course


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def _import(capsys, root, people, *options):
    return run(capsys, "roster", "import", str(people), *options, "--course", str(root))


def test_german_excel_semicolon_csv_with_bom_and_crlf_imports(make_course, capsys, tmp_path):
    root = make_course()
    people = tmp_path / "people.csv"
    people.write_bytes(codecs.BOM_UTF8 + "id;first_name;last_name;email;sis_id\r\n"
                       "dora;Dora;Müller;dora@example.org;4711\r\n"
                       'emil;Emil;"Weiß; jr.";;4712\r\n'
                       ";;;;\r\n".encode())  # Excel writes empty rows as separators only
    code, out, err = _import(capsys, root, people)
    assert (code, err) == (0, "") and "2 added" in out
    course, _ = load_course(root)
    assert course.student("dora").last_name == "Müller" and course.student("dora").sis_id == "4711"
    assert course.student("emil").last_name == "Weiß; jr."


@pytest.mark.parametrize(
    "header",
    [
        "Username,First Name,Last Name,Email,Student ID",
        "username, first name , LAST NAME,Email address,ID number",  # Moodle's export, as typed
        "Benutzername;Vorname;Nachname;E-Mail-Adresse;Matrikelnummer",
        "user_name,firstname,surname,e-mail,SIS User ID",
    ],
)
def test_lms_roster_headers_are_mapped_to_ours(make_course, capsys, tmp_path, header):
    root = make_course()
    people = tmp_path / "people.csv"
    separator = ";" if ";" in header else ","
    people.write_text(header + "\n" + separator.join(
        ["dora", "Dora", "New", "dora@example.org", "S-4711"]) + "\n")
    code, out, err = _import(capsys, root, people)
    assert (code, err) == (0, "") and "1 added" in out
    dora = load_course(root)[0].student("dora")
    assert (dora.first_name, dora.last_name, dora.email, dora.sis_id) == (
        "Dora", "New", "dora@example.org", "S-4711")


def test_column_option_maps_a_header_we_do_not_know(make_course, capsys, tmp_path):
    root = make_course()
    people = tmp_path / "people.csv"
    people.write_text("Kennung,Rufname,Email,E-Mail address\n"
                      "dora,Dora,dora@uni.example.org,dora@home.example.org\n")
    code, _, err = _import(capsys, root, people)  # two columns look like email
    assert code == 2 and "'Email' and 'E-Mail address'" in err and "--column email=" in err
    code, out, err = _import(capsys, root, people, "--column", "id=kennung",
                             "--column", "first_name=Rufname", "--column", "email=Email")
    assert (code, err) == (0, "") and "1 added" in out
    assert "ignored columns: E-Mail address" in out  # said, not silent
    dora = load_course(root)[0].student("dora")
    assert (dora.first_name, dora.email) == ("Dora", "dora@uni.example.org")


@pytest.mark.parametrize(
    "content, options, message",
    [
        ("Name,Email\nDora New,dora@example.org\n", (),
         ("{csv}:1: no 'id' column (the log-in name): the header has Name, Email; "
         "name it with --column id=COLUMN")),
        ("id,first_name\ndora,Dora\n", ("--column", "email=Mail"),
         "--column email=Mail: the header has no column 'Mail' (it has id, first_name)"),
        ("id,first_name\ndora,Dora\n", ("--column", "nickname=first_name"),
         "--column nickname=first_name: 'nickname' is not one of ours"),
        # a row with a cell missing (or one too many: a separator inside a name)
        ("id,first_name,last_name\ndora,Dora\n", (), "{csv}:2: 2 cells, but the header has 3"),
        ("id,first_name,last_name\ndora,Dora,New,jr.\n", (),
         "{csv}:2: 4 cells, but the header has 3"),
    ],
    ids=["no-id", "unknown-theirs", "unknown-ours", "short-row", "long-row"],
)
def test_a_missing_column_is_an_error_naming_it(make_course, capsys, tmp_path, content, options,
                                                message):
    root = make_course()
    before = (root / "course.yml").read_bytes()
    people = tmp_path / "people.csv"
    people.write_text(content)
    code, out, err = _import(capsys, root, people, *options)
    assert code == 2 and "added" not in out
    assert message.format(csv=people) in err
    assert (root / "course.yml").read_bytes() == before


def test_a_bad_id_is_reported_at_the_csv_row(make_course, capsys, tmp_path):
    root = make_course()
    people = tmp_path / "people.csv"
    people.write_text("id,first_name\ndora,Dora\n\nbad+id,Bad\n")
    code, _, err = _import(capsys, root, people)
    assert code == 2 and f"{people}:4: id:" in err and "'bad+id'" in err
    assert "course.yml" not in err


GINA = "  graders:\n    - {id: gina, first_name: Gina}\n"


@pytest.mark.parametrize(
    "who, csv_role, message",
    [
        ("gina", "student", ("gina is a grader in the course file ({course}:{gina}); "
                            "the CSV says student")),
        ("ina", "grader", ("ina is an instructor in the course file ({course}:{ina}); "
                          "the CSV says grader")),
    ],
)
def test_a_person_with_another_role_in_the_course_file_is_a_clear_conflict(
        make_course, capsys, tmp_path, who, csv_role, message):
    text = BASE_COURSE + GINA
    root = make_course(text)
    before = (root / "course.yml").read_bytes()
    people = tmp_path / "people.csv"
    people.write_text(f"id,first_name,role\ndora,Dora,student\n{who},Someone,{csv_role}\n")
    code, out, err = _import(capsys, root, people)
    lines = {name: 1 + next(n for n, line in enumerate(text.splitlines())
                            if f"{{id: {name}," in line) for name in ("gina", "ina")}
    assert code == 2 and "added" not in out
    assert f"{people}:3: " + message.format(course=root / "course.yml", **lines) in err
    assert (root / "course.yml").read_bytes() == before


def test_an_empty_role_keeps_a_known_persons_role(make_course, capsys, tmp_path):
    root = make_course()
    people = tmp_path / "people.csv"
    people.write_text("id,email\nina,ina@example.org\n")  # ina is an instructor; no role column
    code, out, _ = _import(capsys, root, people)
    assert code == 0 and "1 updated" in out
    assert load_course(root)[0].roster.instructors[0].email == "ina@example.org"


def test_dry_run_shows_adds_updates_and_conflicts_and_writes_nothing(make_course, capsys,
                                                                     tmp_path):
    root = make_course()
    before = (root / "course.yml").read_bytes()
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name,role\n"
                      "dora,Dora,New,\n"  # added
                      "ben,Ben,Bitdiddle,\n"  # updated: a last name
                      "cleo,Cleo,,\n"  # unchanged
                      "ina,Ina,Structor,student\n")  # a conflict: an instructor
    code, out, err = _import(capsys, root, people, "--dry-run")
    assert code == 2
    assert f"add dora (student, {people}:2): Dora New" in out
    assert f"update ben ({people}:3): last_name '' -> 'Bitdiddle'" in out
    assert "1 to add, 1 to update, 1 unchanged, 1 conflict" in out and "nothing written" in out
    assert f"{people}:5: ina is an instructor in the course file" in err
    assert (root / "course.yml").read_bytes() == before
    people.write_text("id,first_name,last_name\ndora,Dora,New\n")
    code, out, err = _import(capsys, root, people, "--dry-run")
    assert (code, err) == (0, "") and "1 to add" in out and "nothing written" in out
    assert (root / "course.yml").read_bytes() == before


LAYOUT = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
sessions:
  - {date: 2026-10-20, start: "10:15", topic: Intro}
assignments:
  - {id: 01-numpy, title: NumPy, release: 2026-10-12 12:00, due: 2026-10-25 18:00}   # week 1
  - {id: 02-linreg, title: Linear regression with a rather long title, due: 2026-11-01 18:00}
roster:
  instructors:
    - {id: ina, first_name: Ina, last_name: Structor}
  students:
    # group A
    - {id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org, sis_id: S-1001}
    - {id: ben, first_name: Ben}   # joined late
    - {id: cleo, first_name: Cleo, last_name: "O'Neil",
       unavailable: [2026-10-20]}   # a session she cannot attend
  # graders come later
  graders: []
gradebook: {url: sqlite:///gradebook.db}
"""


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_an_import_changes_only_the_lines_of_the_people_it_adds_or_changes(make_course, capsys,
                                                                           tmp_path):
    root = make_course(LAYOUT)
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name,email,sis_id,role\n"
                      "ada,Ada,Lovelace,ada@example.org,S-1001,\n"  # unchanged
                      "ben,Ben,Bitdiddle,,1002,\n"  # two fields added, one a number as text
                      "cleo,Cleo,O'Neil,cleo@example.org,,\n"  # one added to a 2-line entry
                      "dora,Dora,Müller,dora@example.org,S-1004,student\n"
                      "gina,Gina,Grader,,,grader\n")
    code, out, _ = _import(capsys, root, people)
    assert code == 0 and "2 added, 2 updated, 1 unchanged" in out
    after = (root / "course.yml").read_text()
    assert _changed_lines(LAYOUT, after) == [
        "-    - {id: ben, first_name: Ben}   # joined late",
        "+    - {id: ben, first_name: Ben, last_name: Bitdiddle, sis_id: '1002'}   # joined late",
        "-       unavailable: [2026-10-20]}   # a session she cannot attend",
        ("+       unavailable: [2026-10-20], email: cleo@example.org}   # a session she cannot "
        "attend"),
        ("+    - {id: dora, first_name: Dora, last_name: Müller, email: dora@example.org, "
        "sis_id: S-1004}"),
        "-  graders: []",
        "+  graders:",
        "+    - {id: gina, first_name: Gina, last_name: Grader}",
    ]
    course, _ = load_course(root)
    assert course.student("ben").sis_id == "1002" and course.student("cleo").unavailable
    assert [g.id for g in course.roster.graders] == ["gina"]


def test_an_import_into_block_style_entries_writes_block_style(make_course, capsys, tmp_path):
    text = LAYOUT.replace(
        "    - {id: ben, first_name: Ben}   # joined late\n",
        "    - id: ben      # joined late\n      first_name: Ben\n")
    text = text.replace("""    - {id: cleo, first_name: Cleo, last_name: "O'Neil",
       unavailable: [2026-10-20]}   # a session she cannot attend
""", "    - id: cleo\n      first_name: Cleo\n")
    root = make_course(text)
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name\nben,Ben,Bitdiddle\ndora,Dora,New\n")
    code, out, _ = _import(capsys, root, people)
    assert code == 0 and "1 added, 1 updated" in out
    assert _changed_lines(text, (root / "course.yml").read_text()) == [
        "+      last_name: Bitdiddle",
        "+    - id: dora",
        "+      first_name: Dora",
        "+      last_name: New",
    ]


def test_an_import_of_many_people_adds_one_line_each(make_course, capsys, tmp_path):
    root = make_course(LAYOUT)
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name,email\n" + "".join(
        f"s{n:02},First{n},Last{n},s{n:02}@example.org\n" for n in range(47)))
    code, out, _ = _import(capsys, root, people)
    assert code == 0 and "47 added" in out
    changed = _changed_lines(LAYOUT, (root / "course.yml").read_text())
    assert len(changed) == 47 and all(line.startswith("+    - {id: s") for line in changed)

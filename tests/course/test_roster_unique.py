"""One person per LMS id and email (issue 23, item 8): an LMS matches students by ``sis_id``, else
by email, so two roster entries sharing one would get each other's grades. The course file
(``course validate``, ``course export``, every command that loads it) and ``course roster
import`` refuse them, naming both entries or rows; an email that is not one is refused too."""

from __future__ import annotations

import pytest
from small_courses import BASE_COURSE

from commands.main import main

ADA = "    - {id: ada, first_name: Ada, last_name: Lovelace, email: ada@example.org}\n"
BEN = "    - {id: ben, first_name: Ben}\n"
CLEO = "    - {id: cleo, first_name: Cleo}\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _line(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def _course(make_course, ada: str, ben: str):
    text = BASE_COURSE.replace(ADA, ada).replace(BEN, ben)
    root = make_course(text)
    return root, _line(text, "id: ada,"), _line(text, "id: ben,")


@pytest.mark.parametrize(
    "ada, ben, field, value",
    [
        ("    - {id: ada, sis_id: S-1001}\n", "    - {id: ben, sis_id: S-1001}\n",
         "sis_id", "S-1001"),
        # emails ignore case, as mail servers do
        ("    - {id: ada, email: ada@example.org}\n", "    - {id: ben, email: Ada@Example.org}\n",
         "email", "Ada@Example.org"),
    ],
    ids=["sis_id", "email"],
)
def test_validate_refuses_a_shared_lms_id_or_email_naming_both_entries(make_course, capsys,
                                                                        ada, ben, field, value):
    root, ada_line, ben_line = _course(make_course, ada, ben)
    code, _, err = run(capsys, "validate", "--course", str(root))
    assert code == 2
    assert f"course.yml:{ben_line}: roster.students[1].{field}:" in err
    assert f"{value!r}" in err and f"roster.students[0] (ada, line {ada_line})" in err


def test_validate_refuses_an_email_that_is_not_one(make_course, capsys):
    root, _, ben_line = _course(make_course, ADA, "    - {id: ben, email: ben(at)example.org}\n")
    code, _, err = run(capsys, "validate", "--course", str(root))
    assert code == 2
    assert f"course.yml:{ben_line}: roster.students[1].email: not an email address" in err


def test_export_refuses_a_shared_sis_id_and_writes_nothing(make_course, capsys, tmp_path):
    root, ada_line, ben_line = _course(make_course, "    - {id: ada, sis_id: S-7}\n",
                                       "    - {id: ben, sis_id: S-7, email: ben@example.org}\n")
    out = tmp_path / "grades.csv"
    code, _, err = run(capsys, "export", "--format", "canvas", "--out", str(out),
                       "--as-of", "2026-11-20 12:00", "--course", str(root))
    assert code == 2 and not out.exists()
    assert f"course.yml:{ben_line}:" in err and f"line {ada_line}" in err


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,sis_id\ndora,S-9\nemil,S-8\nfritz,S-9\n",
         "{csv}:2 and {csv}:4 both have sis_id 'S-9'"),
        ("id,email\ndora,dora@example.org\nemil,DORA@example.org\n",
         ("{csv}:2 and {csv}:3 have emails 'dora@example.org' and 'DORA@example.org', the same "
         "email (case is ignored)")),
        # a new person with an existing person's email or LMS id: the CSV row and the entry
        ("id,email\ndora,ada@example.org\n",
         "{csv}:2: dora's email 'ada@example.org' is also ada's ({course}:{ada})"),
        ("id,email\nben,ada@example.org\n",
         "{csv}:2: ben's email 'ada@example.org' is also ada's ({course}:{ada})"),
        ("id,email\ndora,dora(at)example.org\n", "{csv}:2: email: not an email address"),
    ],
    ids=["sis_id-twice", "email-twice", "new-vs-course", "update-vs-course", "bad-email"],
)
def test_roster_import_refuses_shared_lms_ids_and_emails(make_course, capsys, tmp_path, content,
                                                         message):
    root = make_course()
    course_file = root / "course.yml"
    before = course_file.read_bytes()
    people = tmp_path / "people.csv"
    people.write_text(content)
    code, out, err = run(capsys, "roster", "import", str(people), "--course", str(root))
    assert code == 2 and "added" not in out
    ada = _line(BASE_COURSE, "id: ada,")
    assert message.format(csv=people, course=course_file, ada=ada) in " ".join(err.split())
    assert course_file.read_bytes() == before


def test_roster_import_lets_lms_ids_move_between_people(make_course, capsys, tmp_path):
    """Not a clash: after the import, ada and ben have different emails."""
    root = make_course()
    people = tmp_path / "people.csv"
    people.write_text("id,email\nada,ada@new.example.org\nben,ada@example.org\n")
    code, out, _ = run(capsys, "roster", "import", str(people), "--course", str(root))
    assert code == 0 and "2 updated" in out

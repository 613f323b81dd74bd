"""Small things a new instructor trips over (issue 23, items 13, 14 and "expected and missing"):
each command says what happened in one plain line, through ``commands.main.main``."""

import csv
import io
import json

import pytest
import sqlalchemy as sa
from small_courses import BASE_COURSE

from commands.main import main
from course.gradebook import Excuse, Gradebook
from course.workspace import open_workspace

WITH_STAFF = BASE_COURSE.replace(
    "  students:\n",
    "  graders:\n    - {id: gina, first_name: Gina, email: gina@example.org}\n  students:\n")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"course {version('dl-course-platform')}"


def test_init_refuses_an_id_that_is_not_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    code, out, err = run(capsys, "init", str(tmp_path / "c"), "--id", "Intro DL 2026")
    assert code == 2 and out == ""
    assert "'Intro DL 2026' is not a course id" in err and "intro-dl-2026" in err
    assert not (tmp_path / "c" / "course.yml").exists()


def test_init_derives_an_id_from_a_folder_name_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    folder = tmp_path / "Intro DL 2026"
    code, out, _ = run(capsys, "init", str(folder))
    assert code == 0
    assert "course id 'intro-dl-2026' (from the folder's name 'Intro DL 2026'" in out
    assert "id: intro-dl-2026\n" in (folder / "course.yml").read_text()
    assert run(capsys, "validate", "--course", str(folder))[0] == 0


def test_excusing_twice_says_it_is_already_excused(make_course, capsys):
    root = make_course()
    assert run(capsys, "excuse", "ben", "01-numpy", "--reason", "ill", "--course", str(root))[0] == 0
    code, out, err = run(capsys, "excuse", "ben", "01-numpy", "--reason", "ill again",
                         "--course", str(root))
    assert code == 0 and err == ""
    assert "ben is already excused from 01-numpy (ill, by ina" in out
    assert "nothing recorded" in out
    with Gradebook(open_workspace(root).db_url, "dl-test") as gb:
        assert len(gb.session.scalars(sa.select(Excuse)).all()) == 1


def test_a_grader_is_not_a_student(make_course, tmp_path, capsys):
    root = make_course(WITH_STAFF)
    work = tmp_path / "a.ipynb"
    work.write_text("{}")
    code, _, err = run(capsys, "submit", "01-numpy", str(work), "--student", "gina",
                       "--course", str(root))
    assert code == 2
    assert "'gina' is a grader, not a student" in err and "not in the course roster" not in err
    code, _, err = run(capsys, "excuse", "ina", "01-numpy", "--reason", "x", "--course", str(root))
    assert code == 2 and "'ina' is an instructor, not a student" in err


def released(root, assignment="01-numpy"):
    (root / "exchange" / "dl-test" / "outbound" / assignment).mkdir(parents=True)
    return root


def test_feedback_sums_up_who_handed_nothing_in(make_course, capsys):
    root = released(make_course())
    code, out, _ = run(capsys, "feedback", "01-numpy", "--course", str(root))
    assert code == 0
    assert "nothing handed in" not in out.replace("nothing handed in by 3 students", "")
    assert "  nothing handed in by 3 students: ada, ben, cleo\n" in out
    assert out.count("\n") == 2  # the summary line and the tally


@pytest.mark.parametrize("command", ["collect", "grade", "feedback"])
def test_an_unreleased_assignment_is_said_to_be_so(make_course, capsys, command):
    root = make_course()
    code, out, err = run(capsys, command, "01-numpy", "--course", str(root))
    assert code == 2 and "0 of 0" not in out + err
    assert "01-numpy is not released (course release 01-numpy): nothing was handed in" in err


def test_the_standing_is_headed_in_the_course_zone(make_course, capsys, tmp_path):
    root = make_course()
    code, out, _ = run(capsys, "status", "--as-of", "2026-11-20 12:00", "--course", str(root))
    heading = "standing as of Fri 2026-11-20 12:00 +0100 (Europe/Berlin)"
    assert code == 0 and heading in out and "11:00:00Z" not in out
    code, out, _ = run(capsys, "status", "--format", "json", "--as-of", "2026-11-20 12:00",
                       "--course", str(root))
    data = json.loads(out)
    assert (data["as_of_utc"], data["timezone"]) == ("2026-11-20T11:00:00Z", "Europe/Berlin")
    assert run(capsys, "report", "--as-of", "2026-11-20 12:00", "--out", str(tmp_path / "r"),
               "--course", str(root))[0] == 0
    assert heading in (tmp_path / "r" / "status.html").read_text()


def test_sessions_out_of_date_order_are_said_to_be(make_course, capsys):
    text = (BASE_COURSE
            .replace("{date: 2026-10-27, start:", "{date: 2026-10-13, start:")
            .replace("{id: 01-numpy, title: NumPy, for_session: 2}",
                     "{id: 01-numpy, title: NumPy, release: 2026-10-19 12:00, for_session: 2}"))
    root = make_course(text, gradebook=False)
    code, _, err = run(capsys, "validate", "--course", str(root))
    assert code == 2
    assert ("course.yml:8: sessions[1].date: sessions out of order: 2026-10-13 is before "
            "session 1 (2026-10-20)") in err
    assert "release must be before the deadline" not in err
    assert "1 error(s)" in err


ROSTER_COLUMNS = ["id", "first_name", "last_name", "email", "sis_id", "role"]


def test_roster_list_in_three_formats(make_course, capsys):
    root = make_course(WITH_STAFF.replace("{id: ben, first_name: Ben}",
                                          "{id: ben, first_name: '=cmd', sis_id: S-2}"),
                       gradebook=False)  # the course file is all it reads
    code, out, _ = run(capsys, "roster", "list", "--format", "json", "--course", str(root))
    assert code == 0
    people = json.loads(out)
    assert [(p["id"], p["role"]) for p in people] == [
        ("ada", "student"), ("ben", "student"), ("cleo", "student"), ("ina", "instructor"),
        ("gina", "grader")]
    assert people[0] == {"id": "ada", "name": "Ada Lovelace", "first_name": "Ada",
                         "last_name": "Lovelace", "email": "ada@example.org", "sis_id": "",
                         "role": "student"}

    code, out, _ = run(capsys, "roster", "list", "--format", "csv", "--course", str(root))
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ROSTER_COLUMNS  # what course roster import reads back
    assert rows[2] == ["ben", "'=cmd", "", "", "S-2", "student"]  # never a formula

    code, out, _ = run(capsys, "roster", "list", "--course", str(root))
    assert code == 0
    assert "Ada Lovelace" in out and "ada@example.org" in out and "grader" in out
    assert "3 students, 1 instructor, 1 grader" in out

"""The CLI's machine-readable contracts and its record-keeping commands, on both databases."""

import csv
import datetime as dt
import io
import json
import re

import pytest
import sqlalchemy as sa
from small_courses import BASE_COURSE

from commands.main import main
from course.gradebook import Excuse, Extension, Gradebook
from course.gradebook.records import add_receipt, record_release

ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deadlines_json(make_course, capsys):
    root = make_course()
    code, out, _ = run(capsys, "deadlines", "--format", "json", "--course", str(root))
    assert code == 0
    rows = json.loads(out)
    assert [r["assignment"] for r in rows] == ["01-numpy", "02-linreg"]
    for row in rows:
        assert ISO_OFFSET.match(row["due_local"]) and ISO_Z.match(row["due_utc"])
    assert rows[0]["due_local"] == "2026-10-25T18:00:00+01:00"
    assert rows[0]["due_utc"] == "2026-10-25T17:00:00Z"


def test_deadlines_reads_course_yml_in_cwd(make_course, capsys, monkeypatch):
    monkeypatch.chdir(make_course())
    code, out, _ = run(capsys, "deadlines")
    assert code == 0 and "Sun 2026-10-25 18:00 +0100" in out


def test_status_json_contract(make_course, db_url, capsys):
    root = make_course(db_url=db_url)
    assert run(capsys, "extend", "ben", "01-numpy", "--until", "2026-10-27 12:00",
               "--reason", "doctor's note", "--course", str(root))[0] == 0
    assert run(capsys, "excuse", "cleo", "02-linreg", "--reason", "conference",
               "--course", str(root))[0] == 0
    from course.workspace import open_workspace

    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for student, assignment, when in [("ada", "01-numpy", "2026-10-24T10:00:00+00:00"),
                                          ("ben", "01-numpy", "2026-10-26T10:00:00+00:00")]:
            add_receipt(gb, student_id=student, assignment_id=assignment,
                        received_at=dt.datetime.fromisoformat(when), sha256="0" * 64,
                        size_bytes=1, storage_path="x")
        for assignment in ("01-numpy", "02-linreg"):
            record_release(gb, assignment, "0" * 64, now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
        gb.commit()
    code, out, _ = run(capsys, "status", "--format", "json", "--as-of", "2026-11-20 12:00",
                       "--course", str(root))
    assert code == 0
    data = json.loads(out)
    students = {s["id"]: s for s in data["students"]}
    assert list(students) == ["ada", "ben", "cleo"]
    for student in students.values():
        assert {"id", "status", "misses", "excused", "assignments"} <= set(student)
        for entry in student["assignments"].values():
            assert {"state", "score", "max_score", "due_utc", "received_utc"} <= set(entry)
            assert ISO_Z.match(entry["due_utc"])
    ada = students["ada"]
    assert ada["assignments"]["01-numpy"]["state"] == "on_time"
    assert ada["assignments"]["01-numpy"]["received_utc"] == "2026-10-24T10:00:00Z"
    assert (ada["status"], ada["misses"]) == ("at_risk", 1)
    ben = students["ben"]
    assert ben["assignments"]["01-numpy"]["state"] == "extended"
    assert ben["assignments"]["01-numpy"]["effective_due_utc"] == "2026-10-27T11:00:00Z"
    cleo = students["cleo"]
    assert cleo["assignments"]["02-linreg"]["state"] == "excused"
    assert (cleo["misses"], cleo["excused"], cleo["status"]) == (1, 1, "at_risk")

    code, out, _ = run(capsys, "status", "--student", "ben", "--format", "csv",
                       "--as-of", "2026-11-20 12:00", "--course", str(root))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["student"] for r in rows} == {"ben"} and len(rows) == 2

    code, out, _ = run(capsys, "status", "--as-of", "2026-11-20 12:00", "--course", str(root))
    assert code == 0 and "must be excluded by 2026-12-01" not in out and "ada" in out


def test_grants_record_who_when_why(make_course, db_url, capsys):
    root = make_course(db_url=db_url)
    run(capsys, "extend", "ada", "02-linreg", "--until", "2026-11-03 12:00", "--reason", "ill",
        "--course", str(root))
    run(capsys, "excuse", "ada", "01-numpy", "--reason", "funeral", "--course", str(root))
    with Gradebook(db_url, "dl-test") as gb:
        (ext,) = gb.session.scalars(sa.select(Extension)).all()
        (exc,) = gb.session.scalars(sa.select(Excuse)).all()
    assert (ext.student_id, ext.assignment_id, ext.reason, ext.granted_by) == \
        ("ada", "02-linreg", "ill", "ina")
    assert ext.until.isoformat() == "2026-11-03T11:00:00+00:00"
    assert (exc.reason, exc.granted_by) == ("funeral", "ina") and exc.granted_at.tzinfo


@pytest.mark.parametrize(
    "argv, message",
    [
        (["extend", "zed", "01-numpy", "--until", "2026-11-03 12:00", "--reason", "x"],
         "unknown student 'zed'"),
        (["excuse", "ada", "99-nope", "--reason", "x"], "unknown assignment '99-nope'"),
        (["extend", "ada", "01-numpy", "--until", "2026-10-01 12:00", "--reason", "x"],
         "is not after the deadline"),
        (["extend", "ada", "01-numpy", "--until", "tomorrow", "--reason", "x"],
         "expected a date and time"),
        (["status", "--student", "zed"], "unknown student 'zed'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(make_course, capsys, argv, message):
    root = make_course()
    code, out, err = run(capsys, *argv, "--course", str(root))
    assert code == 2 and message in err and out == ""


def test_init_writes_a_course_that_validates(tmp_path, capsys):
    code, _out, _ = run(capsys, "init", str(tmp_path / "new"), "--id", "dl-2027")
    assert code == 0 and (tmp_path / "new" / "assignments").is_dir()
    assert run(capsys, "validate", "--course", str(tmp_path / "new"))[0] == 0
    assert run(capsys, "init", str(tmp_path / "new"))[0] == 2  # never overwrites


def test_roster_import_merges_and_keeps_comments(make_course, capsys, tmp_path):
    root = make_course(BASE_COURSE.replace("policy:", "# keep me\npolicy:"))
    people = tmp_path / "people.csv"
    people.write_text("id,first_name,last_name,email,role\n"
                      "ada,Ada,Byron,ada@example.org,student\n"
                      "dora,Dora,New,dora@example.org,\n"
                      "gina,Gina,Grader,gina@example.org,grader\n")
    code, out, _ = run(capsys, "roster", "import", str(people), "--course", str(root))
    assert code == 0 and "2 added, 1 updated, 0 unchanged" in out
    text = (root / "course.yml").read_text()
    assert "# keep me" in text
    from course.coursefile import load_course

    course, _ = load_course(root)
    assert course.student("ada").last_name == "Byron"
    assert course.student("dora").email == "dora@example.org"
    assert [g.id for g in course.roster.graders] == ["gina"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,email\nx,y\n", "'id' column"),
        ("id,role\nzoe,visitor\n", ":2: role 'visitor'"),
        ("id,role\nina,student\n", "ina is an instructor in the course file"),  # not both
        ("id\nbad+id\n", "pattern"),
    ],
)
def test_roster_import_refuses_bad_csv_and_changes_nothing(make_course, capsys, tmp_path,
                                                           content, message):
    root = make_course()
    before = (root / "course.yml").read_text()
    people = tmp_path / "people.csv"
    people.write_text(content)
    code, _, err = run(capsys, "roster", "import", str(people), "--course", str(root))
    assert code == 2 and message in err
    assert (root / "course.yml").read_text() == before


@pytest.mark.parametrize(
    "content, message",
    [
        # an id already in the course, twice (lines 2 and 5)
        ("id,first_name\nada,Ada\ndora,Dora\nben,Ben\nada,Adele\n",
         "{csv}:2 and {csv}:5 both have id 'ada'"),
        # a new id, twice: used to be "1 added, 1 updated"
        ("id,first_name\ndora,Dora\ndora,Dorothea\n", "{csv}:2 and {csv}:3 both have id 'dora'"),
        # the same id under two roles
        ("id,role\nzed,student\nzed,grader\n", "{csv}:2 and {csv}:3 both have id 'zed'"),
        # spaces around a cell are dropped, so these are one id
        ("id,first_name\ndora,Dora\n  dora ,Dora\n", "{csv}:2 and {csv}:3 both have id 'dora'"),
        # log-in names ignore case: 'ada' and 'ADA' would be one hub user
        ("id,first_name\nada,Ada\nben,Ben\nADA,Ada\n",
         "{csv}:2 and {csv}:4 have ids 'ada' and 'ADA'"),
        # line numbers are the file's, blank lines included
        ("id,first_name\ndora,Dora\n\nben,Ben\ndora,Dora\n",
         "{csv}:2 and {csv}:5 both have id 'dora'"),
    ],
    ids=["known", "new", "two-roles", "spaces", "case", "blank-line"],
)
def test_roster_import_refuses_duplicate_ids_naming_both_lines(make_course, capsys, tmp_path,
                                                                content, message):
    root = make_course()
    before = (root / "course.yml").read_bytes()
    people = tmp_path / "people.csv"
    people.write_text(content)
    code, out, err = run(capsys, "roster", "import", str(people), "--course", str(root))
    assert code == 2 and "added" not in out
    assert message.format(csv=people) in err
    assert (root / "course.yml").read_bytes() == before


def test_a_deadline_without_a_release_is_nobodys_miss_and_warned_about(make_course, db_url, capsys,
                                                                     monkeypatch):
    root = make_course(db_url=db_url)
    from course.workspace import open_workspace

    with open_workspace(root).gradebook() as gb:  # 01-numpy released, 02-linreg forgotten
        record_release(gb, "01-numpy", "0" * 64, now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
        gb.commit()
    code, out, err = run(capsys, "status", "--format", "json", "--as-of", "2026-11-20 12:00",
                         "--course", str(root))
    assert code == 0
    assert "02-linreg: the deadline passed on 2026-11-01 18:00 but it was never released" in err
    data = json.loads(out)
    assert data["warnings"] and "01-numpy" not in " ".join(data["warnings"])
    for student in data["students"]:  # one miss each (01-numpy), not two
        assert student["assignments"]["02-linreg"]["state"] == "not_released"
        assert (student["misses"], student["status"]) == (1, "at_risk")
    code, out, err = run(capsys, "status", "--as-of", "2026-11-20 12:00", "--course", str(root))
    table = " ".join(out.split())
    assert "never released" in table and "not released" in table  # caption and cells
    assert "upcoming: 02-linreg" not in table
    # validate says so as well, as a warning (exit 0), judged at the CLI's one clock reading
    import course.calendar

    monkeypatch.setattr(course.calendar, "utcnow",
                        lambda: dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC))
    code, out, err = run(capsys, "validate", "--course", str(root))
    assert code == 0 and "02-linreg: the deadline passed" in err and "01-numpy: the" not in err

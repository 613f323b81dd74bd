"""``course status`` for a full term (issue 23): a piped table is 160 columns wide, so a term of 13
assignments is shown turned (``--transpose``) or cut to the columns asked for (``--assignment``);
JSON and CSV always hold everything."""

import datetime as dt
import json
import re

import pytest
from small_courses import BASE_COURSE, utc

from commands.main import main
from course.gradebook.records import add_receipt, record_release
from course.workspace import open_workspace

IDS = [f"{n:02d}-week-{n:02d}" for n in range(1, 14)]
FIRST_DUE = dt.datetime(2026, 10, 4, 18, 0)
AS_OF = "2027-02-01 12:00"  # every deadline has passed


def course_text(students: list[str]) -> str:
    assignments = "".join(
        f"  - {{id: {aid}, title: Week {n}, due: {FIRST_DUE + dt.timedelta(weeks=n - 1):%Y-%m-%d %H:%M}}}\n"
        for n, aid in enumerate(IDS, start=1))
    text = BASE_COURSE.replace(
        "  - {id: 01-numpy, title: NumPy, for_session: 2}\n"
        "  - {id: 02-linreg, title: Linear regression, due: 2026-11-01 18:00}\n", assignments)
    extra = "".join(f"    - {{id: {student}}}\n" for student in students)
    return text + extra


@pytest.fixture
def term(make_course):
    """13 assignments, all released; ada hands each in on time, ben hands each in late, cleo
    never."""

    def make(students=()):
        root = make_course(course_text(list(students)))
        ws = open_workspace(root)
        with ws.gradebook() as gb:
            for aid in IDS:
                record_release(gb, aid, "0" * 64, now=utc(2026, 9, 30, 12))
                due = ws.course.due(aid)
                for student, when in (("ada", due - dt.timedelta(hours=1)),
                                      ("ben", due + dt.timedelta(hours=1))):
                    add_receipt(gb, student_id=student, assignment_id=aid, received_at=when,
                                sha256="0" * 64, size_bytes=1, storage_path="x")
            gb.commit()
        return str(root)

    return make


def status(capsys, root, *argv):
    code = main(["status", "--as-of", AS_OF, "--course", root, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(out: str) -> dict[str, list[str]]:
    """A printed table's rows by their first cell: the other cells, stripped."""
    rows = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in re.split("[│┃]", line.strip("│┃ "))]
        if len(cells) > 1 and cells[0]:
            rows.setdefault(cells[0], []).extend(cells[1:])
    return rows


def test_a_transposed_table_of_13_assignments_loses_none_when_piped(term, capsys):
    root = term()
    code, out, _ = status(capsys, root, "--transpose")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 160 and "…" not in out
    rows = rows_of(out)
    assert rows["assignment"] == ["ada", "ben", "cleo"]
    for aid in IDS:
        assert rows[aid] == ["on time", "late", "missing"], aid
    assert rows["misses"] == ["0", "13", "13"]
    assert "standing as of Mon 2027-02-01 12:00 +0100 (Europe/Berlin)" in out


def test_a_transposed_table_splits_a_large_roster_into_tables_that_fit(term, capsys):
    many = [f"student-{n:03d}" for n in range(40)]
    root = term(many)
    code, out, _ = status(capsys, root, "--transpose")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 160 and "…" not in out
    assert out.count("standing as of") == 1  # one title, over the first table
    students = [cell for line in out.splitlines() if line.lstrip("│┃ ").startswith("assignment")
                for cell in rows_of(line)["assignment"]]
    assert students == ["ada", "ben", "cleo", *many]
    assert all(rows_of(out)[aid].count("missing") == 41 for aid in IDS)


def test_assignment_picks_the_columns(term, capsys):
    root = term()
    code, out, _ = status(capsys, root, "--assignment", "11-week-11", "--assignment", "03-week-03")
    assert code == 0
    rows = rows_of(out)
    assert rows["student"][:2] == ["11-week-11", "03-week-03"]
    assert rows["ada"][:2] == ["on time", "on time"] and rows["cleo"][:2] == ["missing"] * 2
    assert [aid for aid in IDS if aid in out] == ["03-week-03", "11-week-11"]
    code, out, _ = status(capsys, root, "--transpose", "--assignment", "13-week-13")
    assert code == 0 and [aid for aid in IDS if aid in out] == ["13-week-13"]
    assert rows_of(out)["13-week-13"] == ["on time", "late", "missing"]


def test_an_unknown_assignment_is_a_clear_error(term, capsys):
    root = term()
    code, out, err = status(capsys, root, "--assignment", "03-week-03", "--assignment", "99-nope")
    assert code == 2 and out == ""
    assert "unknown assignment '99-nope'" in err and "01-week-01" in err


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_stay_complete(term, capsys, fmt):
    root = term()
    code, _, err = status(capsys, root, "--format", fmt, "--assignment", "03-week-03")
    assert code == 2 and "--format " + fmt + " always holds every assignment" in err
    code, _, err = status(capsys, root, "--format", fmt, "--transpose")
    assert code == 2
    code, out, _ = status(capsys, root, "--format", fmt)
    assert code == 0 and all(aid in out for aid in IDS)
    if fmt == "json":
        assert list(json.loads(out)["students"][0]["assignments"]) == IDS

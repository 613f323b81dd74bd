"""Only ``course init`` and ``course upgrade`` create a gradebook (issue 23, item 6): every other
command refuses a missing one, so a moved ``gradebook.db`` or a typo in ``$COURSE_DB_URL`` never
starts an empty gradebook beside the real one. A database that cannot be used (unreachable,
unparsable URL, corrupt file, no such folder) ends in one line naming the URL and the cause,
exit status 2, as every other user error does (item 7)."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa
from small_courses import REPO

from commands.main import main
from course.errors import GradebookMissing
from course.gradebook import Gradebook
from course.gradebook.reading import open_reader

AS_OF = ["--as-of", "2026-11-20 12:00"]
# the fast read path (SQLite read with sqlite3), the ORM path, one that writes the course file
# too and one that runs nbgrader: each must refuse before it touches anything
COMMANDS = [["status", *AS_OF],
            ["status", "--format", "json", *AS_OF],
            ["report", *AS_OF],
            ["excuse", "ada", "01-numpy", "--reason", "ill"],
            ["roster", "drop", "ben", "--reason", "withdrew"],
            ["release", "01-numpy"]]
# `course upgrade` creates a missing gradebook: attacked only where it must refuse too
UPGRADE = ["upgrade"]


def refused(capsys, argv: list[str], *naming: str) -> str:
    """Run the real CLI; it must exit 2 with one line on stderr naming each of ``naming``."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err and out == "", (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    for text in naming:
        assert text in lines[0], (argv, text, lines[0])
    return lines[0]


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


def closed_port() -> int:
    """A loopback port nothing listens on: bound once by the kernel's choice, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def course(make_course):
    """A course whose gradebook `course upgrade` made, holding one excuse."""
    root = make_course(assignments=("01-numpy",), gradebook=False)
    assert main(["upgrade", "--course", str(root)]) == 0
    assert main(["excuse", "cleo", "01-numpy", "--reason", "ill", "--course", str(root)]) == 0
    return root


# -- item 6: a missing gradebook is refused, never created -------------------------------------

def test_a_moved_gradebook_is_refused_and_not_created_again(course, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for part in course.glob("gradebook.db*"):
        part.rename(elsewhere / part.name)
    course_file = (course / "course.yml").read_text()
    for argv in COMMANDS:
        line = refused(capsys, [*argv, "--course", str(course)],
                       sqlite_url(course / "gradebook.db"), "course upgrade")
        assert "no gradebook" in line
        assert not list(course.glob("gradebook.db*")), argv  # no empty one in its place
    assert (course / "course.yml").read_text() == course_file  # roster drop wrote nothing
    assert not (course / "release").exists()  # nbgrader never ran


def test_a_typo_in_the_database_url_is_refused_and_not_created(course, tmp_path, monkeypatch,
                                                                capsys):
    typo = tmp_path / "gradbook.db"
    monkeypatch.setenv("COURSE_DB_URL", sqlite_url(typo))
    for argv in COMMANDS:
        refused(capsys, [*argv, "--course", str(course)], sqlite_url(typo), "course upgrade")
        assert not typo.exists(), argv
    # the real one is untouched and still answers once the typo is gone
    monkeypatch.delenv("COURSE_DB_URL")
    assert main(["status", "--format", "json", *AS_OF, "--course", str(course)]) == 0
    assert '"excused": 1' in capsys.readouterr().out


def test_a_url_whose_folder_does_not_exist_is_refused_and_nothing_is_made(course, tmp_path,
                                                                          monkeypatch, capsys):
    nowhere = tmp_path / "nowhere"
    url = sqlite_url(nowhere / "gradebook.db")
    monkeypatch.setenv("COURSE_DB_URL", url)
    for argv in COMMANDS:
        refused(capsys, [*argv, "--course", str(course)], url, "no gradebook")
    refused(capsys, [*UPGRADE, "--course", str(course)], url, f"{nowhere} does not exist")
    refused(capsys, ["init", str(tmp_path / "new")], url, f"{nowhere} does not exist")
    assert not nowhere.exists()
    assert not (tmp_path / "new" / "course.yml").exists()  # init left nothing half-made


@pytest.mark.postgres
def test_an_empty_postgresql_database_is_no_gradebook(make_course, postgres_url, capsys):
    root = make_course(assignments=("01-numpy",), db_url=postgres_url, gradebook=False)
    for argv in COMMANDS:
        refused(capsys, [*argv, "--course", str(root)], postgres_url, "course upgrade")
    engine = sa.create_engine(postgres_url)
    try:
        assert sa.inspect(engine).get_table_names() == []  # none created on the way
    finally:
        engine.dispose()
    assert main(["upgrade", "--course", str(root)]) == 0
    assert "(created)" in capsys.readouterr().out
    assert main(["status", *AS_OF, "--course", str(root)]) == 0


def test_init_and_upgrade_create_the_gradebook(tmp_path, db_url, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DB_URL", db_url)
    monkeypatch.setenv("COURSE_USER", "ina")
    assert main(["init", str(tmp_path / "new"), "--id", "dl-2027"]) == 0
    assert "gradebook" in capsys.readouterr().out
    assert main(["status", "--course", str(tmp_path / "new")]) == 0
    assert main(["upgrade", "--course", str(tmp_path / "new")]) == 0
    assert "(already current)" in capsys.readouterr().out


def test_the_readers_refuse_a_missing_gradebook_and_create_nothing(tmp_path):
    url = sqlite_url(tmp_path / "gradebook.db")
    with pytest.raises(GradebookMissing, match="no gradebook at"), open_reader(url, "dl-test"):
        pass
    with pytest.raises(GradebookMissing, match="course upgrade"):
        Gradebook(url, "dl-test")
    assert not (tmp_path / "gradebook.db").exists()
    (tmp_path / "gradebook.db").touch()  # an empty file holds no gradebook either
    with pytest.raises(GradebookMissing), open_reader(url, "dl-test"):
        pass
    assert (tmp_path / "gradebook.db").stat().st_size == 0
    with Gradebook(url, "dl-test", create=True):  # made only when asked to
        pass
    with open_reader(url, "dl-test") as rows:
        assert rows("SELECT COUNT(*) FROM course_receipt") == [(0,)]


# -- item 7: a database that cannot be used is one line, exit status 2 ----------------------------

def test_a_corrupt_gradebook_is_one_line_and_left_as_it_is(course, capsys):
    garbage = random.Random(23).randbytes(16384)
    for part in course.glob("gradebook.db*"):
        part.unlink()
    (course / "gradebook.db").write_bytes(garbage)
    for argv in [*COMMANDS, UPGRADE]:
        refused(capsys, [*argv, "--course", str(course)], sqlite_url(course / "gradebook.db"),
                "not a database")
        assert (course / "gradebook.db").read_bytes() == garbage, argv


def test_an_unreachable_postgresql_is_one_line_without_the_password(course, monkeypatch, capsys):
    port = closed_port()
    monkeypatch.setenv("COURSE_DB_URL",
                       f"postgresql+psycopg://course:s3cret@127.0.0.1:{port}/course")
    shown = f"postgresql+psycopg://course:***@127.0.0.1:{port}/course"
    for argv in [*COMMANDS, UPGRADE]:
        line = refused(capsys, [*argv, "--course", str(course)], shown, "cannot reach")
        assert "s3cret" not in line and "refused" in line.lower()


def test_an_unreachable_server_keeps_its_error_type_for_the_services():
    """A worker or the exchange tells a passing outage by its type (the fleet retries an
    OperationalError): only the CLI turns it into a line."""
    url = f"postgresql+psycopg://course@127.0.0.1:{closed_port()}/course"
    with pytest.raises(sa.exc.OperationalError) as raised:
        Gradebook(url, "dl-test")
    assert raised.value.gradebook_opening == f"cannot reach the gradebook at {url}"


@pytest.mark.parametrize("url, cause", [
    ("sqlite//gradebook.db", "not a database URL"),         # a colon lost
    ("postgres://course@db/course", "not a database URL"),  # SQLAlchemy says postgresql
    ("postgresql+nodriver://course@db/course", "not a database URL"),
])
def test_an_unparsable_url_is_one_line(course, tmp_path, monkeypatch, capsys, url, cause):
    monkeypatch.setenv("COURSE_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    for argv in [*COMMANDS, UPGRADE]:
        refused(capsys, [*argv, "--course", str(course)], url, cause)
    assert sorted(tmp_path.iterdir()) == before


def test_a_database_failure_midway_is_one_line(course, monkeypatch, capsys):
    from course.gradebook import records

    def locked(*_args, **_kwargs):  # what SQLite says when another writer holds the file
        driver_error = sqlite3.OperationalError("database is locked")
        driver_error.sqlite_errorname = "SQLITE_BUSY"
        raise sa.exc.OperationalError("INSERT INTO course_excuse ...", {}, driver_error)

    monkeypatch.setattr(records, "grant_excuse", locked)
    refused(capsys, ["excuse", "ada", "01-numpy", "--reason", "ill", "--course", str(course)],
            "database is locked")


def test_a_bug_in_our_own_sql_keeps_its_traceback(course, monkeypatch):
    from course.gradebook import records

    def typo(*_args, **_kwargs):
        driver_error = sqlite3.OperationalError("no such column: reasn")
        driver_error.sqlite_errorname = "SQLITE_ERROR"
        raise sa.exc.OperationalError("INSERT INTO course_excuse ...", {}, driver_error)

    monkeypatch.setattr(records, "grant_excuse", typo)
    with pytest.raises(sa.exc.OperationalError, match="no such column"):
        main(["excuse", "ada", "01-numpy", "--reason", "ill", "--course", str(course)])


def test_an_unreachable_postgresql_from_the_shell_prints_one_line(course):
    url = f"postgresql+psycopg://course@127.0.0.1:{closed_port()}/course"
    result = subprocess.run([sys.executable, "-m", "commands.main", "status", "--course", str(course)],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
                            env={**os.environ, "COURSE_DB_URL": url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and url in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


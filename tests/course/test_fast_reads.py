"""Reading is cheap: opening the gradebook is one query (no migration, no rewrite of nbgrader's
tables), commands that only read never load nbgrader's application stack, and nbgrader's
tables get the roster and deadlines only when the course file changed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from small_courses import REPO, utc

from commands.main import main
from course.errors import UserError
from course.gradebook import Gradebook, GradingRun, database
from course.gradebook.records import add_receipt, nbgrader_scores, receipts_where, record_release
from course.release import generate
from course.workspace import Workspace, open_workspace

HEAVY = ("nbgrader", "nbconvert", "jupyter_server", "tensorflow", "alembic")
READING = [["status", "--format", "json", "--as-of", "2026-11-20 12:00"],
           ["status", "--as-of", "2026-11-20 12:00"],
           ["report", "--as-of", "2026-11-20 12:00"],
           ["validate"],
           ["deadlines"],
           ["deadlines", "--format", "json"],
           ["summaries", "--as-of", "2026-11-20 12:00"]]

# runs each command in one fresh interpreter and names the heavy packages loaded after each
PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from commands.main import main
    commands, seen = json.loads(sys.argv[1]), []
    for argv in commands:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
        seen.append({"argv": argv, "code": code, "heavy": heavy})
    print(json.dumps(seen))
""")


def nbgrader_due(url: str, assignment_id: str) -> dt.datetime:
    with Gradebook(url, "dl-test") as gb:  # no workspace: nothing is synced on opening .nb
        return gb.nb.find_assignment(assignment_id).duedate


def nbgrader_email(url: str, student_id: str) -> str | None:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        email = connection.execute(sa.text("select email from student where id = :s"),
                                   {"s": student_id}).scalar()
    engine.dispose()
    return email


def test_commands_that_read_load_neither_nbgrader_nor_tensorflow(make_course, tmp_path):
    root = make_course()
    ws = open_workspace(root)
    ws.sync_gradebook()
    with ws.gradebook() as gb:
        receipt = add_receipt(gb, student_id="ada", assignment_id="01-numpy",
                              received_at=utc(2026, 10, 24, 10), sha256="0" * 64, size_bytes=1,
                              storage_path="x")
        record_release(gb, "01-numpy", "0" * 64, now=utc(2026, 10, 1))
        gb.session.add(GradingRun(student_id="ada", assignment_id="01-numpy",
                                  receipt_id=receipt.id, engine="test", grader_version="v1",
                                  started_at=utc(2026, 10, 26), finished_at=utc(2026, 10, 26),
                                  outcome="success", message="", score=3.0, max_score=4.0))
        gb.commit()
    # the roster changed since nbgrader's tables were written: reading must not write them
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace(
        "    - {id: cleo, first_name: Cleo}", "    - {id: cleo, first_name: Cleo}\n"
        "    - {id: dan, first_name: Dan}"))
    commands = [[*argv, "--course", str(root)] for argv in READING]
    commands[2] += ["--out", str(tmp_path / "reports")]
    probe = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(HEAVY)],
                           cwd=REPO, capture_output=True, text=True, check=True)
    seen = json.loads(probe.stdout.splitlines()[-1])
    assert [(run["argv"][0], run["code"], run["heavy"]) for run in seen] == \
        [(argv[0], 0, []) for argv in READING]
    assert nbgrader_email(ws.db_url, "dan") is None  # not written by reading


def test_opening_a_current_gradebook_is_one_query_and_migrates_nothing(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    Gradebook(url, "dl-test", create=True).close()  # a new database: created and migrated

    def refuse(_connection):
        raise AssertionError("migrated a gradebook that is current")

    monkeypatch.setattr(database, "upgrade_schema", refuse)
    statements = []
    listener = lambda *args: statements.append(args[2])  # (conn, cursor, statement, ...)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", listener)
    try:
        gb = Gradebook(url, "dl-test")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", listener)
    gb.close()
    assert statements == ["SELECT version_num FROM course_alembic_version"]


def test_schema_version_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    assert ScriptDirectory(str(database.MIGRATIONS)).get_current_head() == database.SCHEMA_VERSION


def test_an_older_gradebook_is_migrated_on_first_use_a_newer_one_refused(db_url):
    from alembic import command
    from alembic.config import Config

    database._create_nbgrader_schema(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(database.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    assert database.stored_version(engine) == "0003"
    with Gradebook(db_url, "dl-test") as gb:
        assert gb.session.execute(sa.text("select count(*) from course_sync")).scalar() == 0
    assert database.stored_version(engine) == database.SCHEMA_VERSION
    with engine.begin() as connection:
        connection.execute(sa.text("update course_alembic_version set version_num = '0099'"))
    with pytest.raises(UserError, match=r"version 0099, newer .* \(0008\): update course"):
        Gradebook(db_url, "dl-test")
    engine.dispose()


def test_the_roster_reaches_nbgrader_when_it_changed_not_on_every_open(make_course, db_url):
    root = make_course(db_url=db_url)
    ws = open_workspace(root)
    assert ws.sync_gradebook() == 5  # ada, ben, cleo, 01-numpy, 02-linreg
    assert ws.sync_gradebook() == 0
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace(
        "{id: ben, first_name: Ben}", "{id: ben, first_name: Ben, email: ben@example.org}"))
    ws = open_workspace(root)
    with ws.gradebook() as gb:  # our tables only: nbgrader's are left as they are
        assert receipts_where(gb, student_id="ben") == []
    assert nbgrader_email(ws.db_url, "ben") is None
    with ws.gradebook() as gb:  # nbgrader's gradebook used: brought in line first
        assert gb.nb.find_student("ben").email == "ben@example.org"
    assert ws.sync_gradebook() == 0
    engine = sa.create_engine(ws.db_url)
    with engine.begin() as connection:  # a row removed behind our back (the formgrader)
        connection.execute(sa.text("delete from student where id = 'cleo'"))
    engine.dispose()
    assert ws.sync_gradebook() == 0  # the course file did not change: not compared
    assert ws.sync_gradebook(force=True) == 1  # course upgrade compares row by row


def test_course_upgrade_creates_migrates_and_syncs(make_course, capsys):
    root = make_course(gradebook=False)
    assert main(["upgrade", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"schema {database.SCHEMA_VERSION} (created)" in out and "(5 rows written)" in out
    assert main(["upgrade", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert "(already current)" in out and "(0 rows written)" in out


def test_a_changed_deadline_reaches_nbgrader_at_generate_not_at_a_read(make_course, monkeypatch,
                                                                      capsys):
    root = make_course()
    open_workspace(root).sync_gradebook()
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace("due: 2026-11-01 18:00",
                                                           "due: 2026-11-08 18:00"))
    ws = open_workspace(root)
    assert main(["status", "--format", "json", "--course", str(root)]) == 0
    assert nbgrader_due(ws.db_url, "02-linreg") == dt.datetime(2026, 11, 1, 17, 0)

    class GeneratesNothing:
        def generate_assignment(self, assignment_id, **_options):
            (root / "release" / assignment_id).mkdir(parents=True)
            return {"success": True}

    monkeypatch.setattr(Workspace, "nbgrader_api", lambda *_args: GeneratesNothing())
    (root / "assignments" / "02-linreg").mkdir(parents=True)
    (root / "assignments" / "02-linreg" / "linreg.ipynb").write_text("{}")
    generate(ws, "02-linreg")
    assert nbgrader_due(ws.db_url, "02-linreg") == dt.datetime(2026, 11, 8, 17, 0)


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own autoflush
def test_nbgrader_scores_read_with_sql_match_nbgrader(db_url):
    with Gradebook(db_url, "dl-test", create=True) as gb:
        nb = gb.nb
        nb.add_assignment("ps1")
        nb.add_assignment("ps2")  # no notebooks: out of 0
        for notebook in ("p1", "p2"):
            nb.add_notebook(notebook, "ps1")
        nb.add_grade_cell("c1", "p1", "ps1", max_score=2, cell_type="code")
        nb.add_grade_cell("c2", "p2", "ps1", max_score=3, cell_type="code")
        nb.add_task_cell("t1", "p1", "ps1", max_score=1.5, cell_type="markdown")
        for student in ("ada", "ben", "cleo"):
            nb.add_student(student)
            nb.add_submission("ps1", student)
        nb.add_submission("ps2", "ada")
        scores = {("ada", "c1"): (1.5, None, None), ("ada", "c2"): (3, 1, None),  # manual wins
                  ("ben", "c1"): (2, None, 0.5), ("ben", "t1"): (None, 1, None),  # extra credit
                  ("cleo", "c2"): (None, None, 2)}  # neither score: 0, extra credit ignored
        for (student, cell), (auto, manual, extra) in scores.items():
            notebook = "p2" if cell == "c2" else "p1"
            grade = nb.find_grade(cell, notebook, "ps1", student)
            grade.auto_score, grade.manual_score, grade.extra_credit = auto, manual, extra
        nb.db.commit()
        expected = {(s, a): (nb.find_submission(a, s).score, nb.find_submission(a, s).max_score)
                    for s, a in [("ada", "ps1"), ("ben", "ps1"), ("cleo", "ps1"), ("ada", "ps2")]}
        found = nbgrader_scores(gb, ["ps1", "ps2", "ps3"])
    assert found == expected
    assert found[("ben", "ps1")] == (3.5, 6.5)


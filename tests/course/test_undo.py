"""Undo with history: revoked extensions and excuses, withdrawn draws, roster drops and score
overrides, each recorded with who and when, on SQLite and PostgreSQL."""

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa
from small_courses import BASE_COURSE

import course.calendar
import course.gradebook.records
from commands.main import main
from course.gradebook import Excuse, Extension, GradingRun, Presentation, Receipt
from course.gradebook.models import RosterEvent, ScoreOverride
from course.gradebook.records import add_receipt, record_release
from course.presenters import drawn_for, presentation_history
from course.workspace import open_workspace

NOW = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)  # the one clock reading of each command
RELEASED = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
THRESHOLD_COURSE = BASE_COURSE.replace("policy: {excused_misses: 1}",
                                       "policy: {excused_misses: 1, pass_threshold: 0.5}")


@pytest.fixture
def clock(monkeypatch):
    """A fixed clock for the CLI (and for the older grant records, which read it themselves)."""
    monkeypatch.setattr(course.calendar, "utcnow", lambda: NOW)
    monkeypatch.setattr(course.gradebook.records, "utcnow", lambda: NOW)
    return NOW


@pytest.fixture
def setup(make_course, db_url, clock, monkeypatch):
    """A course with both assignments released; the acting instructor is 'otto'."""

    def make(text=BASE_COURSE):
        root = make_course(text, db_url=db_url)
        monkeypatch.setenv("COURSE_USER", "otto")
        ws = open_workspace(root)
        with ws.gradebook() as gb:
            for assignment in ("01-numpy", "02-linreg"):
                record_release(gb, assignment, "0" * 64, now=RELEASED)
            gb.commit()
        return ws

    return make


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli(capsys, ws, *argv):
    return run(capsys, *argv, "--course", str(ws.course_file))


def hand_in(ws, student, assignment, when, *, score=None, max_score=10.0):
    """A receipt, and a successful grading of it when ``score`` is given."""
    with ws.gradebook() as gb:
        receipt = add_receipt(gb, student_id=student, assignment_id=assignment, received_at=when,
                              sha256="0" * 64, size_bytes=1, storage_path="x")
        if score is not None:
            gb.session.add(GradingRun(
                student_id=student, assignment_id=assignment, receipt_id=receipt.id,
                engine="test", grader_version="v1", started_at=when, finished_at=when,
                outcome="success", message="", score=score, max_score=max_score))
        gb.commit()


def status(capsys, ws) -> dict:
    code, out, _ = cli(capsys, ws, "status", "--format", "json")
    assert code == 0
    return {s["id"]: s for s in json.loads(out)["students"]}


def rows(ws, model):
    with ws.gradebook() as gb:
        return list(gb.session.scalars(sa.select(model).order_by(model.id)))


# ---- extensions and excuses ----

def test_revoking_an_extension_makes_the_late_submission_late_again(setup, capsys):
    ws = setup()
    due = ws.course.due("01-numpy")
    hand_in(ws, "ben", "01-numpy", due + 20 * HOUR)
    for until, reason in (("2026-10-26 18:00", "doctor's note"), ("2026-10-27 12:00", "longer")):
        assert cli(capsys, ws, "extend", "ben", "01-numpy", "--until", until,
                   "--reason", reason)[0] == 0
    assert status(capsys, ws)["ben"]["assignments"]["01-numpy"]["state"] == "extended"

    # revoking the later grant puts the earlier one in force again: still extended
    code, out, _ = cli(capsys, ws, "extend", "ben", "01-numpy", "--revoke",
                       "--reason", "granted twice by mistake")
    assert code == 0 and "revoked the extension" in out and "an earlier extension" in out
    entry = status(capsys, ws)["ben"]["assignments"]["01-numpy"]
    assert (entry["state"], entry["effective_due_utc"]) == ("extended", "2026-10-26T17:00:00Z")

    # revoking that one too: the course deadline counts, the submission is late (a miss)
    code, out, _ = cli(capsys, ws, "extend", "ben", "01-numpy", "--revoke",
                       "--reason", "note was forged")
    assert code == 0 and "deadline now: 2026-10-25T18:00:00+01:00" in out
    entry = status(capsys, ws)["ben"]["assignments"]["01-numpy"]
    assert (entry["state"], entry["counts_as_miss"]) == ("late", True)
    assert entry["effective_due_utc"] == entry["due_utc"]

    # history kept: both rows still there, each revoked with who, when and why
    first, second = rows(ws, Extension)
    assert (first.revoked_by, first.revoked_at, first.revoke_reason) == \
        ("otto", NOW, "note was forged")
    assert (second.revoked_by, second.revoked_at, second.revoke_reason) == \
        ("otto", NOW, "granted twice by mistake")
    assert (first.granted_by, first.reason) == ("otto", "doctor's note")

    code, out, err = cli(capsys, ws, "extend", "ben", "01-numpy", "--revoke", "--reason", "x")
    assert code == 2 and "ben has no extension for 01-numpy to revoke" in err and out == ""


def test_revoking_an_excuse_makes_the_assignment_missing(setup, capsys):
    ws = setup()
    assert cli(capsys, ws, "excuse", "cleo", "02-linreg", "--reason", "conference")[0] == 0
    cleo = status(capsys, ws)["cleo"]
    assert cleo["assignments"]["02-linreg"]["state"] == "excused"
    assert (cleo["misses"], cleo["excused"], cleo["status"]) == (1, 1, "at_risk")

    code, out, _ = cli(capsys, ws, "excuse", "cleo", "02-linreg", "--revoke",
                       "--reason", "did not attend the conference")
    assert code == 0 and "revoked the excuse of cleo from 02-linreg (conference)" in out
    cleo = status(capsys, ws)["cleo"]
    entry = cleo["assignments"]["02-linreg"]
    assert (entry["state"], entry["counts_as_miss"]) == ("missing", True)
    assert (cleo["misses"], cleo["excused"], cleo["status"]) == (2, 0, "exclude")
    assert cleo["status_text"] == "must be excluded by 2026-12-01"

    (row,) = rows(ws, Excuse)
    assert (row.reason, row.granted_by) == ("conference", "otto")
    assert (row.revoked_at, row.revoked_by, row.revoke_reason) == \
        (NOW, "otto", "did not attend the conference")


@pytest.mark.parametrize("command, message", [
    ("extend", "ada has no extension for 02-linreg to revoke"),
    ("excuse", "ada has no excuse for 02-linreg to revoke"),
])
def test_revoking_nothing_exits_2(setup, capsys, command, message):
    ws = setup()
    code, out, err = cli(capsys, ws, command, "ada", "02-linreg", "--revoke", "--reason", "x")
    assert code == 2 and message in err and out == ""
    # another student's grant is not this student's
    assert cli(capsys, ws, "excuse", "ben", "02-linreg", "--reason", "ill")[0] == 0
    assert cli(capsys, ws, "extend", "ben", "02-linreg", "--until", "2026-11-03 12:00",
               "--reason", "ill")[0] == 0
    code, _, err = cli(capsys, ws, command, "ada", "02-linreg", "--revoke", "--reason", "x")
    assert code == 2 and message in err


@pytest.mark.parametrize("argv", [
    ["extend", "ada", "01-numpy", "--reason", "x"],  # neither --until nor --revoke
    ["extend", "ada", "01-numpy", "--revoke", "--until", "2026-11-03 12:00", "--reason", "x"],
    ["excuse", "ada", "01-numpy", "--revoke"],  # no reason
])
def test_extend_needs_until_or_revoke_not_both(make_course, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--course", str(make_course())])
    assert exit_info.value.code == 2 and "usage: course" in capsys.readouterr().err


# ---- presenter draw ----

def test_draw_undo_withdraws_every_round_and_allows_a_new_draw(setup, capsys):
    ws = setup()
    due = ws.course.due("01-numpy")
    for student in ("ada", "ben", "cleo"):
        hand_in(ws, student, "01-numpy", due - HOUR)
    assert cli(capsys, ws, "draw", "01-numpy", "--count", "1", "--seed", "abc")[0] == 0
    (first,) = [row.student_id for row in rows(ws, Presentation)]
    assert cli(capsys, ws, "draw", "01-numpy", "--absent", first)[0] == 0
    drawn = {row.student_id for row in rows(ws, Presentation)}
    assert len(drawn) == 2
    presented = {sid: s["presented"] for sid, s in status(capsys, ws).items()}
    assert {sid for sid, entries in presented.items() if entries} == drawn

    code, out, _ = cli(capsys, ws, "draw", "01-numpy", "--undo",
                       "--reason", "drawn from the wrong list")
    assert code == 0 and "withdrew the draw of 01-numpy (seed abc)" in out
    assert all(student in out for student in drawn)
    withdrawn = rows(ws, Presentation)
    assert len(withdrawn) == 2  # kept on record, marked
    assert {(r.withdrawn_at, r.withdrawn_by, r.withdraw_reason) for r in withdrawn} == \
        {(NOW, "otto", "drawn from the wrong list")}
    assert all(s["presented"] == [] for s in status(capsys, ws).values())
    with ws.gradebook() as gb:
        assert drawn_for(gb, "01-numpy") == [] and presentation_history(gb) == {}

    # drawn again, anew: a fresh draw with its own seed, not "already drawn"
    code, out, _ = cli(capsys, ws, "draw", "01-numpy", "--seed", "again")
    assert code == 0 and "drew 2 of 3 students" in out and "seed again" in out
    with ws.gradebook() as gb:
        again = drawn_for(gb, "01-numpy")
    assert len(again) == 2 and {row.seed for row in again} == {"again"}
    assert all(row.draw_round == 0 and not row.absent for row in again)
    students = status(capsys, ws)
    assert sorted(sid for sid, s in students.items() if s["presented"]) == \
        sorted(row.student_id for row in again)
    assert all(len(s["presented"]) <= 1 for s in students.values())


@pytest.mark.parametrize("argv, message", [
    (["draw", "01-numpy", "--undo", "--reason", "x"], "no presenters drawn for 01-numpy"),
    (["draw", "01-numpy", "--undo"], "--undo needs --reason"),
    (["draw", "01-numpy", "--undo", "--absent", "ada", "--reason", "x"], "takes no --absent"),
    (["draw", "01-numpy", "--reason", "x"], "--reason goes with --undo"),
])
def test_draw_undo_refusals_exit_2(setup, capsys, argv, message):
    ws = setup()
    code, out, err = cli(capsys, ws, *argv)
    assert code == 2 and message in err and out == ""
    assert rows(ws, Presentation) == []


# ---- roster drop ----

COMMENTED = BASE_COURSE.replace(
    "policy:", "# keep me\npolicy:").replace(
    "    - {id: ben, first_name: Ben}", "    - {id: ben, first_name: Ben}  # repeats the year\n"
                                       "    # exchange students:").replace(
    "    - {id: cleo, first_name: Cleo}", "    - {id: cleo, first_name: Cleo}   # from Lyon")


def test_roster_drop_removes_the_student_keeps_their_work_and_is_audited(setup, capsys):
    ws = setup(COMMENTED)
    hand_in(ws, "ben", "01-numpy", ws.course.due("01-numpy") - HOUR, score=7.0)
    ws.sync_gradebook()  # as generate and grade do: ben is in nbgrader's tables
    code, out, _ = cli(capsys, ws, "roster", "drop", "ben", "--reason", "left the course")
    assert code == 0 and "dropped ben" in out and "first_name: Ben" in out

    text = ws.course_file.read_text()
    assert "id: ben" not in text
    assert "repeats the year" not in text  # ben's own comment goes with him
    # the comments of others are kept, the one after ben's entry (ruamel keeps it in his) too
    assert "# keep me" in text and "# from Lyon" in text and "# exchange students:" in text
    assert text.index("# exchange students:") < text.index("id: cleo")
    assert "id: ada" in text and "id: cleo" in text
    reloaded = open_workspace(ws.course_file)
    assert [s.id for s in reloaded.course.roster.students] == ["ada", "cleo"]
    assert list(status(capsys, reloaded)) == ["ada", "cleo"]

    (receipt,) = rows(reloaded, Receipt)  # the gradebook keeps what ben did
    (graded,) = rows(reloaded, GradingRun)
    assert (receipt.student_id, graded.student_id, graded.score) == ("ben", "ben", 7.0)
    with reloaded.gradebook() as gb:
        assert gb.nb.find_student("ben").id == "ben"
    (event,) = rows(reloaded, RosterEvent)
    assert (event.student_id, event.action, event.changed_at, event.changed_by, event.reason) \
        == ("ben", "drop", NOW, "otto", "left the course")


def test_roster_drop_refuses_an_unknown_student_and_changes_nothing(setup, capsys):
    ws = setup(COMMENTED)
    before = ws.course_file.read_bytes()
    for student in ("zed", "ina"):  # ina is an instructor, not a student
        code, out, err = cli(capsys, ws, "roster", "drop", student, "--reason", "x")
        assert code == 2 and f"unknown student {student!r}" in err and out == ""
    assert ws.course_file.read_bytes() == before
    assert rows(ws, RosterEvent) == []


# ---- score overrides ----

def test_override_sets_the_score_judged_against_the_threshold_and_clear_restores(setup, capsys,
                                                                                  tmp_path):
    ws = setup(THRESHOLD_COURSE)
    due1, due2 = ws.course.due("01-numpy"), ws.course.due("02-linreg")
    hand_in(ws, "ada", "01-numpy", due1 - HOUR, score=4.0)  # below 50 %: a miss
    hand_in(ws, "ben", "01-numpy", due1 - HOUR, score=9.0)
    hand_in(ws, "cleo", "02-linreg", due2 - HOUR)  # handed in, not graded
    ada = status(capsys, ws)["ada"]["assignments"]["01-numpy"]
    assert (ada["score"], ada["counts_as_miss"], ada["override"]) == (4.0, True, None)

    code, out, _ = cli(capsys, ws, "override", "ada", "01-numpy", "--score", "6",
                       "--reason", "regrade after appeal")
    assert code == 0 and "set to 6/10" in out
    code, _, _ = cli(capsys, ws, "override", "ben", "01-numpy", "--score", "3",
                     "--reason", "copied solution")
    assert code == 0
    students = status(capsys, ws)
    ada, ben = (students[s]["assignments"]["01-numpy"] for s in ("ada", "ben"))
    assert (ada["score"], ada["max_score"], ada["counts_as_miss"]) == (6.0, 10.0, False)
    assert ada["override"] == "set by otto on 2026-11-20: regrade after appeal"
    assert "graded 4/10" in ada["note"] and "regrade after appeal" in ada["note"]
    assert (ben["score"], ben["counts_as_miss"]) == (3.0, True)
    assert "below the pass threshold of 50%" in ben["note"]

    # shown in the table (a trailing *), the CSV and the HTML report's cell title
    code, out, _ = cli(capsys, ws, "status")
    assert code == 0 and "6/10*" in out and "9/10" not in out
    code, out, _ = cli(capsys, ws, "status", "--format", "csv")
    by_student = {(r["student"], r["assignment"]): r for r in csv.DictReader(io.StringIO(out))}
    assert by_student[("ada", "01-numpy")]["override"] == ada["override"]
    assert by_student[("ada", "02-linreg")]["override"] == ""
    assert cli(capsys, ws, "report", "--out", str(tmp_path / "rep"))[0] == 0
    page = (tmp_path / "rep" / "status.html").read_text()
    assert "on time 6/10*</td>" in page and "set by otto on 2026-11-20: regrade after appeal" in page

    # nothing graded for cleo's 02-linreg and no max score anywhere: refused, then given
    code, out, err = cli(capsys, ws, "override", "cleo", "02-linreg", "--score", "5",
                         "--reason", "graded by hand")
    assert code == 2 and "give --max-score" in err and out == ""
    assert cli(capsys, ws, "override", "cleo", "02-linreg", "--score", "5", "--max-score", "10",
               "--reason", "graded by hand")[0] == 0
    cleo = status(capsys, ws)["cleo"]["assignments"]["02-linreg"]
    assert (cleo["state"], cleo["score"], cleo["max_score"], cleo["counts_as_miss"]) == \
        ("on_time", 5.0, 10.0, False)  # exactly at the threshold passes

    code, out, _ = cli(capsys, ws, "override", "ada", "01-numpy", "--clear",
                       "--reason", "appeal withdrawn")
    assert code == 0 and "the graded score counts again" in out
    ada = status(capsys, ws)["ada"]["assignments"]["01-numpy"]
    assert (ada["score"], ada["counts_as_miss"], ada["override"]) == (4.0, True, None)

    by_pair = {(r.student_id, r.assignment_id): r for r in rows(ws, ScoreOverride)}
    assert len(by_pair) == 3
    cleared = by_pair[("ada", "01-numpy")]
    assert (cleared.score, cleared.max_score, cleared.set_by, cleared.set_at) == \
        (6.0, None, "otto", NOW)
    assert (cleared.cleared_at, cleared.cleared_by, cleared.clear_reason) == \
        (NOW, "otto", "appeal withdrawn")
    assert by_pair[("cleo", "02-linreg")].max_score == 10.0
    assert by_pair[("ben", "01-numpy")].cleared_at is None


def test_a_new_override_replaces_the_one_in_force(setup, capsys):
    ws = setup(THRESHOLD_COURSE)
    hand_in(ws, "ada", "01-numpy", ws.course.due("01-numpy") - HOUR, score=4.0)
    for score in ("6", "8"):
        assert cli(capsys, ws, "override", "ada", "01-numpy", "--score", score,
                   "--reason", f"to {score}")[0] == 0
    assert status(capsys, ws)["ada"]["assignments"]["01-numpy"]["score"] == 8.0
    old, new = rows(ws, ScoreOverride)
    assert (old.cleared_at, old.clear_reason, new.cleared_at) == (NOW, "replaced: to 8", None)
    # one clear restores the graded score, not the replaced override
    assert cli(capsys, ws, "override", "ada", "01-numpy", "--clear", "--reason", "x")[0] == 0
    assert status(capsys, ws)["ada"]["assignments"]["01-numpy"]["score"] == 4.0


def test_an_override_where_nothing_was_received_is_work_handed_in_another_way(setup, capsys):
    ws = setup()
    hand_in(ws, "ben", "01-numpy", ws.course.due("01-numpy") - HOUR, score=9.0)  # 01: 10 points
    code, out, _ = cli(capsys, ws, "override", "ada", "01-numpy", "--score", "7",
                       "--reason", "handed in on paper")
    assert code == 0 and "set to 7/10" in out  # out of the assignment's points
    ada = status(capsys, ws)["ada"]
    entry = ada["assignments"]["01-numpy"]
    assert (entry["state"], entry["counts_as_miss"], entry["points"], entry["max_points"]) == \
        ("by_hand", False, 7.0, 10.0)
    assert "nothing received on the platform" in entry["note"]
    assert ada["misses"] == 1  # 02-linreg only
    (row,) = rows(ws, ScoreOverride)
    assert row.max_score == 10.0  # kept with the override
    code, out, _ = cli(capsys, ws, "status")
    assert "by hand 7/10*" in out


@pytest.mark.parametrize("argv, message", [
    (["override", "ada", "01-numpy", "--clear", "--reason", "x"],
     "ada has no score override for 01-numpy to clear"),
    (["override", "ada", "01-numpy", "--score", "12", "--reason", "x"],
     "--score 12 is more than the max score 10"),
    (["override", "ada", "01-numpy", "--score", "-1", "--reason", "x"], "is negative"),
    (["override", "zed", "01-numpy", "--score", "1", "--reason", "x"], "unknown student 'zed'"),
])
def test_override_refusals_exit_2(setup, capsys, argv, message):
    ws = setup()
    hand_in(ws, "ada", "01-numpy", ws.course.due("01-numpy") - HOUR, score=4.0)
    code, out, err = cli(capsys, ws, *argv)
    assert code == 2 and message in err and out == ""
    assert rows(ws, ScoreOverride) == []


# ---- the migration ----

def test_a_gradebook_from_before_0003_keeps_its_grants_and_draws(db_url):
    from alembic import command
    from alembic.config import Config

    from course.gradebook import Gradebook
    from course.gradebook.database import MIGRATIONS, _create_nbgrader_schema

    _create_nbgrader_schema(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(sa.text(
            "insert into course_extension (student_id, assignment_id, until, reason, granted_by,"
            " granted_at) values ('ada', '01-numpy', :t, 'ill', 'ina', :t)"), {"t": RELEASED})
        connection.execute(sa.text(
            "insert into course_presentation (assignment_id, student_id, draw_round, seed,"
            " drawn_at, drawn_by, absent) values ('01-numpy', 'ben', 0, 's', :t, 'ina', false)"),
            {"t": RELEASED})
    engine.dispose()
    with Gradebook(db_url, "dl-test") as gb:  # upgrades to head
        (extension,) = gb.session.scalars(sa.select(Extension)).all()
        assert (extension.student_id, extension.reason, extension.revoked_at) == \
            ("ada", "ill", None)
        assert [row.student_id for row in drawn_for(gb, "01-numpy")] == ["ben"]
        assert gb.session.scalars(sa.select(ScoreOverride)).all() == []
        version = gb.session.execute(sa.text("select version_num from course_alembic_version"))
        assert version.scalar() == "0008"

"""The standing's facts read in plain SQL (course.gradebook.reading): on a connection of its
own (``open_reader``, what `course status` uses) and in a gradebook's session alike, on SQLite
and PostgreSQL; on SQLite without loading SQLAlchemy."""

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from small_courses import BASE_COURSE, REPO, utc

from course.coursefile import parse_course
from course.errors import GradebookMissing, UserError
from course.gradebook import Gradebook, GradingRun, Presentation, Release
from course.gradebook.database import upgrade_database
from course.gradebook.models import Excuse, Extension, LateDayRequest, Receipt, ScoreOverride
from course.gradebook.reading import gather_facts, open_reader, presentation_history
from course.gradebook.records import gather_facts as gather_facts_in_session
from course.policy import Graded, GradingError, Override
from course.workspace import open_workspace

COURSE = parse_course(BASE_COURSE.replace(
    "{id: 01-numpy, title: NumPy, for_session: 2}",
    "{id: 01-numpy, title: NumPy, for_session: 2, release: 2026-10-12 09:00}"))
DUE1, DUE2 = COURSE.due("01-numpy"), COURSE.due("02-linreg")
HOUR = dt.timedelta(hours=1)
RELEASED_BY_FILE = COURSE.assignment("01-numpy").release


def receipt(student, assignment, when):
    return Receipt(student_id=student, assignment_id=assignment, received_at=when,
                   sha256="0" * 64, size_bytes=1, storage_path="x")


def run(student, assignment, receipt_id, started, outcome, *, message="", score=None):
    return GradingRun(student_id=student, assignment_id=assignment, receipt_id=receipt_id,
                      engine="test", grader_version="v1", started_at=started,
                      finished_at=started, outcome=outcome, message=message, score=score,
                      max_score=None if score is None else 10.0)


def grant(model, student, assignment, *, revoked=False, **fields):
    return model(student_id=student, assignment_id=assignment, granted_by="ina",
                 granted_at=utc(2026, 10, 20), revoked_at=utc(2026, 10, 21) if revoked else None,
                 **fields)


def override(student, assignment, score, *, cleared=False):
    return ScoreOverride(student_id=student, assignment_id=assignment, score=score, reason="appeal",
                         set_by="ina", set_at=utc(2026, 11, 5),
                         cleared_at=utc(2026, 11, 6) if cleared else None)


def late_days(student, assignment, days, *, withdrawn=False):
    return LateDayRequest(student_id=student, assignment_id=assignment, days=days,
                          requested_by=student, requested_at=utc(2026, 10, 20),
                          withdrawn_at=utc(2026, 10, 21) if withdrawn else None)


def draw(student, assignment, *, absent=False, withdrawn=False):
    return Presentation(assignment_id=assignment, student_id=student, draw_round=0, seed="s",
                        drawn_at=utc(2026, 10, 27, 9), drawn_by="ina", absent=absent,
                        withdrawn_at=utc(2026, 10, 27, 10) if withdrawn else None)


@pytest.fixture
def gradebook(db_url):
    """A gradebook with one of each thing the facts must get right."""
    with Gradebook(db_url, "dl-test", create=True) as gb:
        session = gb.session
        session.add_all([
            Release(assignment_id="01-numpy", released_at=utc(2026, 10, 11), released_by="ina",
                    checksum="0"),  # before the course file's release: that one counts
            Release(assignment_id="02-linreg", released_at=utc(2026, 10, 20), released_by="ina",
                    checksum="0"),
            Release(assignment_id="02-linreg", released_at=utc(2026, 10, 19), released_by="ina",
                    checksum="0"),  # the first release counts, not the first row
        ])
        ada1, ada2 = receipt("ada", "01-numpy", DUE1 - 2 * HOUR), receipt("ada", "01-numpy",
                                                                            DUE1 - HOUR)
        ben1, cleo2 = receipt("ben", "01-numpy", DUE1 + HOUR), receipt("cleo", "02-linreg", DUE2)
        session.add_all([ada1, ada2, ben1, cleo2])
        session.flush()
        session.add_all([
            # ada: a re-grade reuses its older row, so the later start wins, not the higher id
            run("ada", "01-numpy", ada2.id, DUE1 + 2 * HOUR, "success", score=4.0),
            run("ada", "01-numpy", ada1.id, DUE1 + HOUR, "success", score=9.0),
            run("ada", "02-linreg", None, DUE2, "running"),  # not finished: left out
            # ben: a failed re-grade keeps the last good run's own score
            run("ben", "01-numpy", ben1.id, DUE1 + 2 * HOUR, "success", score=6.0),
            run("ben", "01-numpy", ben1.id, DUE1 + 3 * HOUR, "error", message="timed out"),
            run("cleo", "02-linreg", cleo2.id, DUE2 + HOUR, "unreadable", message="not JSON"),
            grant(Extension, "ben", "01-numpy", until=DUE1 + 2 * HOUR, reason="ill"),
            grant(Extension, "ben", "01-numpy", until=DUE1 + 5 * HOUR, reason="?", revoked=True),
            grant(Excuse, "cleo", "01-numpy", reason="revoked", revoked=True),
            grant(Excuse, "cleo", "02-linreg", reason="certificate"),
            override("ada", "02-linreg", 5.0, cleared=True),
            override("ada", "02-linreg", 7.0),
            override("ben", "02-linreg", 1.0, cleared=True),
            late_days("ben", "02-linreg", 2, withdrawn=True),  # asked again: replaced
            late_days("ben", "02-linreg", 1),  # the one in force (one per pair: an index)
            late_days("cleo", "01-numpy", 1, withdrawn=True),
            draw("ada", "01-numpy"),
            draw("ben", "01-numpy", absent=True),
            draw("cleo", "01-numpy", withdrawn=True),
        ])
        gb.commit()
        nb = gb.nb  # nbgrader's score (hand grading included) for ada's and ben's submissions
        nb.add_assignment("01-numpy")
        nb.add_notebook("work", "01-numpy")
        nb.add_grade_cell("c1", "work", "01-numpy", max_score=8, cell_type="code")
        for student, (auto, manual) in {"ada": (2.0, 3.5), "ben": (8.0, None)}.items():
            nb.add_student(student)
            nb.add_submission("01-numpy", student)
            grade = nb.find_grade("c1", "work", "01-numpy", student)
            grade.auto_score, grade.manual_score = auto, manual
        nb.db.commit()
    return db_url


EXPECTED_FACTS = {
    "releases": {"01-numpy": RELEASED_BY_FILE, "02-linreg": utc(2026, 10, 19)},
    "receipts": {("ada", "01-numpy"): [DUE1 - 2 * HOUR, DUE1 - HOUR],
                 ("ben", "01-numpy"): [DUE1 + HOUR], ("cleo", "02-linreg"): [DUE2]},
    "extensions": {("ben", "01-numpy"): DUE1 + 2 * HOUR},
    "excuses": {("cleo", "02-linreg"): "certificate"},
    "scores": {("ada", "01-numpy"): Graded(3.5, 8.0, DUE1 - HOUR),  # nbgrader's: manual wins
               ("ben", "01-numpy"): Graded(6.0, 10.0, DUE1 + HOUR)},
    "grading_errors": {("ben", "01-numpy"): GradingError("timed out", DUE1 + HOUR),
                       ("cleo", "02-linreg"): GradingError("not JSON", DUE2, unreadable=True)},
    "overrides": {("ada", "02-linreg"): Override(7.0, "appeal", "ina", utc(2026, 11, 5))},
    "max_points": {"01-numpy": 8.0},  # nbgrader's cells, not ben's run's 10
    "late_day_requests": {("ben", "02-linreg"): 1},  # a withdrawn request is left out
}
EXPECTED_HISTORY = {
    "ada": [{"assignment": "01-numpy", "drawn_at": utc(2026, 10, 27, 9), "absent": False}],
    "ben": [{"assignment": "01-numpy", "drawn_at": utc(2026, 10, 27, 9), "absent": True}],
}


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own autoflush
def test_facts_on_a_connection_of_their_own_and_in_a_session_are_the_same(gradebook):
    with open_reader(gradebook, "dl-test") as rows:
        facts, history = gather_facts(rows, COURSE), presentation_history(rows)
    assert vars(facts) == EXPECTED_FACTS
    assert history == EXPECTED_HISTORY
    assert all(moment.tzinfo == dt.UTC for pair in facts.receipts.values() for moment in pair)
    with Gradebook(gradebook, "dl-test") as gb:
        gb.session.add(receipt("ben", "02-linreg", DUE2))  # pending, not committed: read too
        in_session = gather_facts_in_session(gb, COURSE)
    assert in_session.receipts == {**EXPECTED_FACTS["receipts"], ("ben", "02-linreg"): [DUE2]}
    assert vars(in_session) | {"receipts": facts.receipts} == EXPECTED_FACTS


def test_a_missing_gradebook_is_refused_and_a_newer_one_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with pytest.raises(GradebookMissing, match="course upgrade"), open_reader(url, "dl-test"):
        pass
    assert not (tmp_path / "gradebook.db").exists()  # refused, not created
    upgrade_database(url)  # what `course upgrade` does
    with open_reader(url, "dl-test") as rows:
        assert vars(gather_facts(rows, COURSE)) == {key: {} for key in EXPECTED_FACTS}
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("update course_alembic_version set version_num = '0099'"))
    engine.dispose()
    with pytest.raises(UserError, match=r"version 0099, newer"), open_reader(url, "dl-test"):
        pass


PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from commands.main import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(sys.argv[1:])
    loaded = sorted({name.split(".")[0] for name in sys.modules} & {"sqlalchemy", "nbgrader"})
    print(json.dumps({"code": code, "loaded": loaded, "status": json.loads(out.getvalue())}))
""")


def test_course_status_on_sqlite_loads_no_sqlalchemy(make_course):
    root = make_course()
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        gb.session.add_all([receipt("ada", "01-numpy", DUE1 - HOUR),
                            Release(assignment_id="01-numpy", released_at=utc(2026, 10, 1),
                                    released_by="ina", checksum="0")])
        gb.commit()
    argv = ["status", "--format", "json", "--as-of", "2026-11-20 12:00", "--course", str(root)]
    probe = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True,
                           text=True, check=True)
    seen = json.loads(probe.stdout.splitlines()[-1])
    assert (seen["code"], seen["loaded"]) == (0, [])
    ada = next(s for s in seen["status"]["students"] if s["id"] == "ada")
    assert ada["assignments"]["01-numpy"]["state"] == "on_time"
    assert ada["assignments"]["02-linreg"]["state"] == "not_released"

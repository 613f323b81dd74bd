"""The gradebook on SQLite and on a real PostgreSQL: schema, migrations, records, facts."""

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from small_courses import BASE_COURSE, utc

from course.coursefile import parse_course
from course.gradebook import Gradebook, GradingRun, Receipt
from course.gradebook.models import Base
from course.gradebook.records import (
    add_receipt,
    finish_run,
    gather_facts,
    grant_excuse,
    grant_extension,
    record_release,
    start_run,
)
from course.policy import GradingError, judge

COURSE = parse_course(BASE_COURSE)


def receipt(student, assignment, when):
    return {"student_id": student, "assignment_id": assignment, "received_at": when,
            "sha256": "0" * 64, "size_bytes": 10, "storage_path": f"inbox/{assignment}/{student}/x"}


def test_schema_has_nbgrader_tables_and_ours(db_url):
    with Gradebook(db_url, "dl-test", create=True):
        pass
    with Gradebook(db_url, "dl-test"):  # reopening migrates nothing and breaks nothing
        pass
    engine = sa.create_engine(db_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"student", "assignment", "grade", "alembic_version"} <= tables  # nbgrader's
    assert {"course_receipt", "course_extension", "course_excuse", "course_grading_run",
            "course_release", "course_presentation", "course_summary",
            "course_alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from course_alembic_version")).all() \
            == [("0008",)]
        # nbgrader's own schema stamp is left alone
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
    engine.dispose()


def test_migrations_match_the_models(db_url):
    with Gradebook(db_url, "dl-test", create=True) as gb, gb.nb.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, type_, *_: type_ != "table"
                        or (name.startswith("course_") and name != "course_alembic_version")})
        assert compare_metadata(context, Base.metadata) == []


def test_times_round_trip_as_aware_utc(db_url):
    berlin_time = dt.datetime(2026, 10, 25, 2, 30, tzinfo=COURSE.zone)  # in the DST fold
    with Gradebook(db_url, "dl-test", create=True) as gb:
        add_receipt(gb, **receipt("ada", "01-numpy", berlin_time))
        gb.commit()
    with Gradebook(db_url, "dl-test") as gb:
        (row,) = gb.session.scalars(sa.select(Receipt)).all()
        assert row.received_at.tzinfo == dt.UTC
        assert row.received_at == utc(2026, 10, 25, 0, 30)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            add_receipt(gb, **receipt("ada", "01-numpy", dt.datetime(2026, 1, 1)))


def test_records_feed_the_policy(db_url):
    due1, due2 = COURSE.due("01-numpy"), COURSE.due("02-linreg")
    hour = dt.timedelta(hours=1)
    with Gradebook(db_url, "dl-test", create=True) as gb:
        add_receipt(gb, **receipt("ada", "01-numpy", due1 - hour))
        add_receipt(gb, **receipt("ada", "02-linreg", due2 + hour))  # late
        add_receipt(gb, **receipt("ben", "01-numpy", due1 + hour))  # within extension
        grant_extension(gb, "ben", "01-numpy", due1 + 2 * hour, "first extension", by="ina")
        grant_extension(gb, "ben", "01-numpy", due1 + 3 * hour, "longer", by="ina")
        grant_excuse(gb, "cleo", "01-numpy", "illness", by="ina")
        for assignment_id in ("01-numpy", "02-linreg"):
            record_release(gb, assignment_id, "0" * 64, now=utc(2026, 10, 1), by="ina")
        run = start_run(gb, "ada", "01-numpy", None, "test", "v1")
        finish_run(gb, run, "error", "notebook is not valid JSON")
        gb.commit()
    with Gradebook(db_url, "dl-test") as gb:
        facts = gather_facts(gb, COURSE)
        runs = gb.session.scalars(sa.select(GradingRun)).all()
    assert facts.extensions[("ben", "01-numpy")] == due1 + 3 * hour  # the latest grant wins
    assert facts.grading_errors[("ada", "01-numpy")] == GradingError(
        "notebook is not valid JSON", None, unreadable=False)
    assert facts.releases == dict.fromkeys(("01-numpy", "02-linreg"), utc(2026, 10, 1))
    assert runs[0].finished_at >= runs[0].started_at
    standings = {s.student_id: s for s in judge(COURSE, facts, utc(2026, 11, 10))}
    assert standings["ada"].results["01-numpy"].state == "on_time"
    assert standings["ada"].results["02-linreg"].state == "late"
    assert standings["ada"].status == "at_risk"
    assert standings["ben"].results["01-numpy"].state == "extended"
    assert standings["ben"].results["02-linreg"].state == "missing"
    assert standings["cleo"].results["01-numpy"].state == "excused"
    assert (standings["cleo"].misses, standings["cleo"].status) == (1, "at_risk")


def test_nbgrader_schema_stamp_matches_nbgrader(tmp_path, monkeypatch):
    """We create nbgrader's tables in-process; the stamp must be the one nbgrader would write."""
    import os
    import sys

    from nbgrader.api import get_alembic_version  # nbgrader's own way: `alembic heads`

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(url, "dl-test", create=True):
        pass
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stamped = conn.execute(sa.text("select version_num from alembic_version")).scalar()
    engine.dispose()
    assert stamped == get_alembic_version()

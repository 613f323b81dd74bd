"""A grading job's gradebooks share one engine per URL, kept for the worker's next job (issue 26
item 6: 15 PostgreSQL connections a submission were 15 server processes forked). Nothing of a
job decides the next one: the next job sees the course file and the gradebook as they are then
(a SQLite file's connections are closed with the job, a PostgreSQL connection is returned rolled
back, all of a failed job are closed), and a job of another course is still refused."""

from __future__ import annotations

import datetime as dt

import pytest
from fleet_rows import course_folder, queued
from small_courses import create_gradebook
from sqlalchemy import text

from course.fleet.jobs import Job, Refused, resolve_courses, run_job
from course.nbgrader_engines import shared_engines

NOW = dt.datetime(2027, 1, 11, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def graded(monkeypatch):
    """A stub grading (which gradebook a job writes is what matters here), and a fixed clock;
    the list of every engine a gradebook of ours was opened on."""
    import course.fleet.jobs
    import course.gradebook.database
    import course.gradebook.records

    engines = []
    real = course.gradebook.database.Gradebook.__init__

    def opened(self, *args, **kwargs):
        real(self, *args, **kwargs)
        engines.append(self.engine)

    monkeypatch.setattr(course.gradebook.database.Gradebook, "__init__", opened)
    monkeypatch.setattr(course.fleet.jobs, "autograde_one",
                        lambda *args, **kwargs: ("unreadable", "graded by the stub", []))
    monkeypatch.setattr(course.fleet.jobs, "utcnow", lambda: NOW)
    monkeypatch.setattr(course.gradebook.records, "utcnow", lambda: NOW, raising=False)
    return engines


def outcomes(ws) -> dict[int, str]:
    from course.gradebook import GradingRun

    with ws.gradebook() as gb:
        return {run.id: run.outcome for run in gb.session.query(GradingRun)}


def job(course_id: str, run_id: int, student: str) -> Job:
    return Job(course_id, "01-numpy", student, 1, "abc", run_id, ("numpy-basics.ipynb",),
               "2026-12-06T17:00:00+00:00", "cpu")


def test_one_job_opens_one_engine_and_closes_its_connections(tmp_path, monkeypatch, graded):
    dl = course_folder(tmp_path / "dl", "dl-a", monkeypatch)
    ada = queued(dl, "ada")
    graded.clear()
    assert run_job(job("dl-a", ada, "ada"), "w1", resolve_courses([str(dl.course_file)])) \
        == "unreadable"
    assert len(graded) == 2 and graded[0] is graded[1]  # marked running, then closed
    engine = graded[0]
    assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0  # none left open
    assert "dispose" not in vars(engine)  # Engine.dispose again after the job
    with shared_engines():  # the next job's engine: the same object, a new pool
        from course.gradebook import Gradebook

        with Gradebook(dl.db_url, "dl-a") as gb:
            assert gb.engine is engine
    assert outcomes(dl)[ada] == "unreadable"


def test_the_next_job_writes_where_the_course_file_says_now(tmp_path, monkeypatch, graded):
    """The course file moved its gradebook between two jobs of one worker: the second job's row
    is written in the new gradebook, the first gradebook is left as it was."""
    from course.workspace import open_workspace

    first = tmp_path / "first.db"
    dl = course_folder(tmp_path / "dl", "dl-a", monkeypatch, url=f"sqlite:///{first}")
    ada = queued(dl, "ada")
    courses = resolve_courses([str(dl.course_file)])
    assert run_job(job("dl-a", ada, "ada"), "w1", courses) == "unreadable"

    second = tmp_path / "second.db"
    dl.course_file.write_text(dl.course_file.read_text().replace(str(first), str(second)))
    create_gradebook(dl.root)
    moved = open_workspace(dl.root)
    assert moved.db_url.endswith("second.db")
    ben = queued(moved, "ben")
    before = outcomes(dl)
    assert run_job(job("dl-a", ben, "ben"), "w1", courses) == "unreadable"
    assert outcomes(moved) == {ben: "unreadable"}
    assert outcomes(dl) == before  # the first gradebook: not written by the second job


def test_a_gradebook_made_anew_between_jobs_is_the_one_the_next_job_reads(
        tmp_path, monkeypatch, graded):
    """A course reset between two jobs (the SQLite file removed and made again): a connection
    kept from the first job would read and write the removed file."""
    dl = course_folder(tmp_path / "dl", "dl-a", monkeypatch)
    ada = queued(dl, "ada")
    courses = resolve_courses([str(dl.course_file)])
    assert run_job(job("dl-a", ada, "ada"), "w1", courses) == "unreadable"
    (dl.root / "gradebook.db").unlink()
    create_gradebook(dl.root)
    again = queued(dl, "ben")
    assert run_job(job("dl-a", again, "ben"), "w1", courses) == "unreadable"
    assert outcomes(dl) == {again: "unreadable"}


def test_after_a_job_of_its_own_course_a_job_of_another_course_is_still_refused(
        tmp_path, monkeypatch, graded):
    dl = course_folder(tmp_path / "dl", "dl-a", monkeypatch)
    ml = course_folder(tmp_path / "ml", "ml-b", monkeypatch)
    ada, ml_run = queued(dl, "ada"), queued(ml, "ada")
    courses = resolve_courses([str(dl.course_file)])
    assert run_job(job("dl-a", ada, "ada"), "w1", courses) == "unreadable"
    with pytest.raises(Refused, match="course 'ml-b' is not one this worker grades"):
        run_job(job("ml-b", ml_run, "ada"), "w1", courses)
    assert outcomes(ml) == {ml_run: "queued"}  # nothing written in the other course
    # the course file now declares another id: the next job is refused, not graded as dl-a
    dl.course_file.write_text(dl.course_file.read_text().replace("id: dl-a", "id: other"))
    ben = queued(dl, "ben")
    with pytest.raises(Refused, match="declares id 'other' now"):
        run_job(job("dl-a", ben, "ben"), "w1", courses)
    assert outcomes(dl)[ben] == "queued"


def test_a_server_database_keeps_idle_connections_between_jobs_but_not_after_a_failure(
        postgres_url):
    """On PostgreSQL a worker's next job reuses the connection its last job returned (no server
    process forked per opening); a job that raised (a database restarted under it) closes its
    connections, so the retry connects afresh."""
    from course.gradebook import Gradebook
    from course.gradebook.database import upgrade_database

    upgrade_database(postgres_url)
    with shared_engines(), Gradebook(postgres_url, "dl-a") as gb:
        engine = gb.engine
        gb.session.execute(text("SELECT 1"))
    assert engine.pool.checkedin() == 1 and engine.pool.checkedout() == 0  # idle, rolled back
    with shared_engines(), Gradebook(postgres_url, "dl-a") as gb:
        gb.session.execute(text("SELECT 1"))
        assert gb.engine is engine  # the same engine, on the same (one) connection
        assert engine.pool.checkedout() == 1 and engine.pool.checkedin() == 0
    assert engine.pool.checkedin() == 1
    with pytest.raises(RuntimeError), shared_engines(), Gradebook(postgres_url, "dl-a"):
        raise RuntimeError("the database went away")
    assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0

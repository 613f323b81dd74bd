"""``course grade`` on the fleet learns that a job's row is closed from the worker (issue 26
item 6): on PostgreSQL the worker NOTIFYs after the commit that closed the row and the waiting
side, LISTENing, looks at once instead of up to a poll interval later. Without a notification
(SQLite, a worker that does not send one, a listening connection lost) it still looks, as
before."""

from __future__ import annotations

import datetime as dt

import pytest
from fleet_rows import course_folder, queued
from sqlalchemy import create_engine, text

from course.fleet import dispatch
from course.fleet.jobs import Job, resolve_courses, run_job

NOW = dt.datetime(2027, 1, 11, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def stub_grading(monkeypatch):
    """A stub grading and a fixed clock: which row a job closes, and when it says so, matter."""
    import course.fleet.jobs
    import course.gradebook.records

    monkeypatch.setattr(course.fleet.jobs, "autograde_one",
                        lambda *args, **kwargs: ("unreadable", "graded by the stub", []))
    monkeypatch.setattr(course.fleet.jobs, "utcnow", lambda: NOW)
    monkeypatch.setattr(course.gradebook.records, "utcnow", lambda: NOW, raising=False)


@pytest.fixture
def no_sleep(monkeypatch):
    """The pauses that sleep, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(dispatch.time, "sleep", slept.append)
    return slept


def outcome(ws, run_id: int) -> str:
    from course.gradebook import GradingRun

    with ws.gradebook() as gb:
        return gb.session.get(GradingRun, run_id).outcome


def grade_job(ws, run_id: int, student: str) -> str:
    job = Job("dl-a", "01-numpy", student, 1, "abc", run_id, ("numpy-basics.ipynb",),
              "2026-12-06T17:00:00+00:00", "cpu")
    return run_job(job, "w1", resolve_courses([str(ws.course_file)]))


def test_a_closed_run_wakes_the_waiting_side_on_postgresql(tmp_path, monkeypatch, postgres_url,
                                                          stub_grading, no_sleep):
    ws = course_folder(tmp_path / "dl", "dl-a", monkeypatch, url=postgres_url)
    ada = queued(ws, "ada")
    monkeypatch.setattr(dispatch, "NOTIFY_WAIT_S", 0.05)  # a pause with no notification
    with dispatch._closed_runs(ws.db_url) as pause:
        assert pause() is False  # nothing closed yet: it waited its time out, and did not sleep
        assert grade_job(ws, ada, "ada") == "unreadable"
        monkeypatch.setattr(dispatch, "NOTIFY_WAIT_S", 30.0)  # woken long before this
        assert pause() is True
        assert outcome(ws, ada) == "unreadable"  # what woke it is committed already
        monkeypatch.setattr(dispatch, "NOTIFY_WAIT_S", 0.05)
        assert pause() is False  # one closed run, one wake-up
    assert no_sleep == []


def test_the_follow_loop_returns_the_outcomes_woken_by_the_workers(
        tmp_path, monkeypatch, postgres_url, stub_grading, no_sleep):
    """``_follow`` with the PostgreSQL pause: the job closes its row while the loop waits; the
    outcome comes back long before the wait's own time out."""
    import threading

    ws = course_folder(tmp_path / "dl", "dl-a", monkeypatch, url=postgres_url)
    ada = queued(ws, "ada")
    job = Job("dl-a", "01-numpy", "ada", 1, "abc", ada, ("numpy-basics.ipynb",),
              "2026-12-06T17:00:00+00:00", "cpu")
    monkeypatch.setattr(dispatch, "NOTIFY_WAIT_S", 60.0)  # beyond the join below
    box = {}
    with dispatch._closed_runs(ws.db_url) as pause:
        def waited():
            box["outcomes"] = dispatch._follow(ws, [job], {}, None, pause)

        follower = threading.Thread(target=waited, daemon=True)
        follower.start()
        assert grade_job(ws, ada, "ada") == "unreadable"
        follower.join(timeout=20)
        assert not follower.is_alive(), "the follow loop was not woken by the closed run"
    assert [(o.student_id, o.outcome) for o in box["outcomes"]] == [("ada", "unreadable")]
    assert no_sleep == []


def test_a_lost_listening_connection_falls_back_to_polling(tmp_path, monkeypatch, postgres_url,
                                                           stub_grading, no_sleep):
    """The database restarted (here: the listening backend terminated): the pause sleeps
    ``POLL_S`` from then on, and the batch's rows are still looked at."""
    ws = course_folder(tmp_path / "dl", "dl-a", monkeypatch, url=postgres_url)
    monkeypatch.setattr(dispatch, "NOTIFY_WAIT_S", 30.0)
    with dispatch._closed_runs(ws.db_url) as pause:
        admin = create_engine(postgres_url)
        with admin.connect() as conn:
            ended = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()")).scalars().all()
            conn.commit()
        admin.dispose()
        assert ended == [True]
        assert pause() is False
        assert pause() is False
    assert no_sleep == [dispatch.POLL_S, dispatch.POLL_S]


def test_on_sqlite_the_pause_is_a_poll(tmp_path, monkeypatch, stub_grading, no_sleep):
    ws = course_folder(tmp_path / "dl", "dl-a", monkeypatch, url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    ada = queued(ws, "ada")
    with dispatch._closed_runs(ws.db_url) as pause:
        assert grade_job(ws, ada, "ada") == "unreadable"  # no NOTIFY on SQLite: nothing raised
        assert pause() is False
    assert no_sleep == [dispatch.POLL_S]
    assert outcome(ws, ada) == "unreadable"

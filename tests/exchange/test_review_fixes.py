"""Holes a review found in the exchange's receiving, attacked (``exchange/group_commit.py``,
``course/inbox.py``, ``exchange/service.py``):

- one student's ``timestamp.txt`` with a NUL (which PostgreSQL refuses in text) sank every
  hand-in of her group-commit batch: control characters are dropped, and a row the database
  refuses refuses that hand-in alone (a savepoint per hand-in);
- a commit that raised may still have reached the server: the folders its receipts name stay;
- SIGTERM while the supervisor waits to restart a dead copy started a copy nobody stopped;
- replicas without a shared port (compose, Kubernetes) on a SQLite gradebook:
  ``$COURSE_EXCHANGE_REPLICATED=1`` refuses it at start.

Times are passed in (``NOW``); no test reads the clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from exchange_requests import inbox_folders, publish, stored_receipts
from small_courses import BASE_COURSE, REPO, utc
from sqlalchemy.exc import DataError

from course import inbox
from course.inbox import CLIENT_TIMESTAMP_FILE, client_timestamp, receive
from course.store import CourseExchange
from course.workspace import open_workspace
from exchange.group_commit import HandIn, commit_batch

NOW = utc(2026, 10, 24, 10)
AID = "01-numpy"
NUL_STAMP = b"2026-10-24 09:59:00\x00\x01\x1b[31m"


@pytest.fixture
def course_file(make_course, db_url) -> Path:
    root = make_course(BASE_COURSE, assignments=(AID,), db_url=db_url)
    return publish(root, AID)


@pytest.fixture
def postgres_course_file(make_course, postgres_url) -> Path:
    root = make_course(BASE_COURSE, assignments=(AID,), db_url=postgres_url)
    return publish(root, AID)


def hand_in(course_file: Path, student: str, note: str, stamp: bytes | None = None) -> HandIn:
    (source,) = (course_file.parent / "assignments" / AID).glob("*.ipynb")
    document = nbformat.read(source, as_version=4)
    document.metadata["note"] = note  # distinct content per hand-in
    files = {source.name: nbformat.writes(document).encode()}
    if stamp is not None:
        files[CLIENT_TIMESTAMP_FILE] = stamp
    return HandIn(student, AID, files, NOW)



# -- M3: one student's timestamp sinks nobody else ------------------------------------------

def test_control_characters_are_dropped_from_the_client_timestamp():
    assert client_timestamp(NUL_STAMP) == "2026-10-24 09:59:00[31m"
    assert client_timestamp(b"\x00\n\t") is None
    assert client_timestamp(b"\xff" * 100) == "\ufffd" * 64


def test_a_nul_in_one_client_timestamp_refuses_no_hand_in_of_the_batch(course_file):
    batch = [hand_in(course_file, "ada", "a", b"2026-10-24 09:58:00\n"),
             hand_in(course_file, "ben", "b", NUL_STAMP),
             hand_in(course_file, "cleo", "c")]
    ex = CourseExchange(course_file)
    try:
        outcomes = commit_batch(ex, batch)
    finally:
        ex.close()
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    stamps = {r.student_id: r.client_timestamp for r in stored_receipts(course_file)}
    assert stamps == {"ada": "2026-10-24 09:58:00", "ben": "2026-10-24 09:59:00[31m",
                      "cleo": None}


def test_a_nul_in_the_client_timestamp_of_a_single_hand_in_is_received(course_file):
    ws = open_workspace(course_file)
    batch_item = hand_in(course_file, "ben", "b", NUL_STAMP)
    with ws.gradebook() as gb:
        receipt = receive(ws, gb, "ben", AID, batch_item.files, received_at=NOW)
        assert receipt.client_timestamp == "2026-10-24 09:59:00[31m"
    assert [r.student_id for r in stored_receipts(course_file)] == ["ben"]


@pytest.mark.postgres
def test_a_row_the_database_refuses_refuses_that_hand_in_alone(postgres_course_file,
                                                              monkeypatch):
    """Whatever else the database refuses in one hand-in's row (here a NUL let through on
    purpose): that hand-in is refused, its folder removed, the rest of the batch received."""
    course_file, real = postgres_course_file, inbox.add_receipt

    def unsanitized(gb, **fields):
        if fields["student_id"] == "ben":
            fields["client_timestamp"] = "09:59\x00"
        return real(gb, **fields)

    monkeypatch.setattr(inbox, "add_receipt", unsanitized)
    batch = [hand_in(course_file, s, f"{s} {i}")
             for i, s in enumerate(("ada", "ben", "cleo", "ada"))]
    ex = CourseExchange(course_file)
    try:
        outcomes = commit_batch(ex, batch)
    finally:
        ex.close()
    assert isinstance(outcomes[1], DataError), outcomes[1]
    assert all(isinstance(outcomes[i], dict) for i in (0, 2, 3)), outcomes
    assert sorted(r.student_id for r in stored_receipts(course_file)) == ["ada", "ada", "cleo"]
    assert sorted(p.parent.name for p in inbox_folders(course_file, AID)) == ["ada", "ada", "cleo"]


# -- L1: a commit that raised may have reached the server -----------------------------------

def test_a_commit_that_raised_after_reaching_the_server_keeps_its_folders(course_file,
                                                                         monkeypatch):
    ex = CourseExchange(course_file)
    real_commit = ex.gb.commit

    def lost_reply():  # committed, then the connection dropped before the server's answer
        real_commit()
        raise OSError(104, "Connection reset by peer")

    monkeypatch.setattr(ex.gb, "commit", lost_reply)
    try:
        outcomes = commit_batch(ex, [hand_in(course_file, s, s) for s in ("ada", "ben")])
    finally:
        ex.close()
    assert all(isinstance(o, OSError) for o in outcomes), outcomes  # nobody acknowledged
    rows = stored_receipts(course_file)
    assert sorted(r.student_id for r in rows) == ["ada", "ben"]
    for row in rows:  # every receipt in the gradebook names a folder that is there
        assert (course_file.parent / row.storage_path).is_dir(), row.storage_path


# -- L2: SIGTERM while a dead copy waits to be restarted -------------------------------------

SUPERVISOR = textwrap.dedent("""
    import sys
    from exchange.service import supervise
    child = [sys.executable, "-c",
             "import os, sys, time; f = open(sys.argv[1], 'a'); f.write(f'{os.getpid()}\\\\n');"
             " f.close(); n = len(open(sys.argv[1]).read().split()); "
             "sys.exit(3) if n == 1 else time.sleep(60)", sys.argv[1]]
    sys.exit(supervise(child, 1, restart_delay=float(sys.argv[2])))
""")


def test_sigterm_during_the_restart_delay_starts_no_copy(tmp_path):
    started = tmp_path / "started"
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(started), "3"],
                                  cwd=REPO, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for line in supervisor.stderr:  # the first copy died: the supervisor waits 3 s
            if "starting another" in line:
                break
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=20)  # before the fix: waits on a copy never stopped
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        time.sleep(0.5)
        for pid in started.read_text().split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert code == 0
    assert len(started.read_text().split()) == 1  # no copy was started after the SIGTERM


# -- M2: replicas on their own ports refuse SQLite -------------------------------------------

def test_replicas_refuse_a_sqlite_gradebook_at_start(make_course, monkeypatch):
    from exchange.service import REPLICATED_ENV, REUSE_PORT_ENV, ExchangeService

    course = str(make_course() / "course.yml")
    monkeypatch.delenv(REUSE_PORT_ENV, raising=False)
    monkeypatch.setenv(REPLICATED_ENV, "1")
    with pytest.raises(ValueError, match=r"COURSE_EXCHANGE_REPLICATED=1\) need a PostgreSQL"):
        ExchangeService(courses=[course])
    monkeypatch.setenv(REPLICATED_ENV, "0")  # one process: SQLite is served
    ExchangeService(courses=[course]).close()


@pytest.mark.postgres
def test_replicas_serve_a_postgresql_gradebook(make_course, postgres_url, monkeypatch):
    from exchange.service import REPLICATED_ENV, ExchangeService

    course = str(make_course(db_url=postgres_url) / "course.yml")
    monkeypatch.setenv(REPLICATED_ENV, "1")
    service = ExchangeService(courses=[course])
    try:
        assert list(service.served)
    finally:
        service.close()


# -- H1: a course file pointing at another course's gradebook --------------------------------

def test_a_course_file_on_another_courses_gradebook_is_not_served(make_course, db_url):
    from course.gradebook.database import Gradebook
    from exchange.service import ExchangeService

    root = make_course(BASE_COURSE, db_url=db_url)
    url = open_workspace(root / "course.yml").db_url
    with Gradebook(url, "other-course") as gb:  # nbgrader used it for another course
        assert gb.nb is not None
    with pytest.raises(ValueError, match=r"gradebook of dl-test .* is the gradebook of "
                                         r"'other-course'"):
        ExchangeService(courses=[str(root / "course.yml")])


def test_a_course_on_its_own_gradebook_is_served(make_course, db_url):
    from course.gradebook.database import Gradebook
    from exchange.service import ExchangeService

    root = make_course(BASE_COURSE, db_url=db_url)
    with Gradebook(open_workspace(root / "course.yml").db_url, "dl-test") as gb:
        assert gb.nb is not None  # its own course row, as the formgrader leaves it
    service = ExchangeService(courses=[str(root / "course.yml")])
    try:
        assert list(service.served) == ["dl-test"]
    finally:
        service.close()

"""Group commit of hand-ins (``exchange/group_commit.py``), attacked: hand-ins that arrive
together share one flush of the disk and one gradebook transaction, and a receipt still means
"on disk and in the gradebook".

- N hand-ins: two flushes (files, renames) and one commit; each stored as sent, each receipt
  in the gradebook;
- a refused hand-in (unknown student, damaged notebook, over the quota counted with the
  hand-ins ahead of it in the same batch) refuses itself alone and leaves nothing behind;
- a flush that fails acknowledges nothing and leaves no receipt and no folder;
- a real exchange process SIGKILLed between writing a batch and committing it: every hand-in
  it acknowledged is in the gradebook and on disk; none of the killed batch was acknowledged
  and none has a receipt.

Times are passed in (``NOW``); no test reads the clock.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
import requests
from exchange_requests import inbox_folders, publish, request, stored_receipts
from small_courses import BASE_COURSE, REPO, utc

from course import inbox
from course.inbox import KeyReused, QuotaExceeded, StudentBusy, digest, read_submission_folder
from course.store import CourseExchange
from exchange import wire
from exchange.group_commit import HandIn, commit_batch

NOW = utc(2026, 10, 24, 10)
AID = "01-numpy"


@pytest.fixture
def course_file(make_course, db_url) -> Path:
    root = make_course(BASE_COURSE, assignments=(AID,), db_url=db_url)
    return publish(root, AID)


def notebook(course_file: Path, note: str) -> tuple[str, bytes]:
    (source,) = (course_file.parent / "assignments" / AID).glob("*.ipynb")
    document = nbformat.read(source, as_version=4)
    document.metadata["note"] = note  # distinct content per hand-in
    return source.name, nbformat.writes(document).encode()


def hand_in(course_file: Path, student: str, note: str) -> HandIn:
    name, content = notebook(course_file, note)
    return HandIn(student, AID, {name: content}, NOW)



def counting(monkeypatch, ex: CourseExchange) -> dict[str, int]:
    counts = {"sync": 0, "commit": 0}
    real_sync, real_commit = inbox.sync_file_system, ex.gb.commit

    def sync(folder):
        counts["sync"] += 1
        real_sync(folder)

    def commit():
        counts["commit"] += 1
        real_commit()

    monkeypatch.setattr(inbox, "sync_file_system", sync)
    monkeypatch.setattr(ex.gb, "commit", commit)
    return counts


def test_hand_ins_that_arrive_together_share_one_flush_and_one_commit(course_file, monkeypatch):
    ex = CourseExchange(course_file)
    try:
        counts = counting(monkeypatch, ex)
        batch = [hand_in(course_file, s, f"{s} {i}")
                 for i, s in enumerate(["ada", "ben", "cleo", "ada", "ben"])]
        outcomes = commit_batch(ex, batch)
    finally:
        ex.close()
    assert counts == {"sync": 1, "commit": 1}
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    rows = {row.id: row for row in stored_receipts(course_file)}
    assert len(rows) == 5
    for item, reply in zip(batch, outcomes, strict=True):
        row = rows[reply["receipt_id"]]
        assert (row.student_id, reply["student_id"]) == (item.student_id, item.student_id)
        assert row.sha256 == reply["sha256"] == digest(item.files)
        assert read_submission_folder(course_file.parent / row.storage_path) == item.files
        assert "on time" in reply["notice"]
    assert not [p for p in inbox_folders(course_file, AID) if p.name.startswith(".")]


def test_a_refused_hand_in_refuses_itself_alone_and_leaves_nothing(course_file):
    good_a, good_c = hand_in(course_file, "ada", "a"), hand_in(course_file, "cleo", "c")
    stranger = hand_in(course_file, "zed", "z")  # in no roster
    damaged = HandIn("ben", AID, {next(iter(good_a.files)): b"{not a notebook"}, NOW)
    ex = CourseExchange(course_file)
    try:
        outcomes = commit_batch(ex, [good_a, stranger, damaged, good_c])
    finally:
        ex.close()
    assert isinstance(outcomes[0], dict) and isinstance(outcomes[3], dict)
    assert isinstance(outcomes[1], LookupError), outcomes[1]
    assert isinstance(outcomes[2], Exception) and "notebook" in str(outcomes[2]).lower()
    assert sorted(r.student_id for r in stored_receipts(course_file)) == ["ada", "cleo"]
    students = {p.parent.name for p in inbox_folders(course_file, AID)}
    assert students == {"ada", "cleo"}  # nothing of ben's or zed's, not even staged


def test_a_crafted_old_format_notebook_refuses_itself_not_the_batch(course_file):
    """nbformat's converter of format 1 raises UnboundLocalError on an unknown cell type: an
    error the batch does not expect would refuse every hand-in in it."""
    good = hand_in(course_file, "ada", "a")
    crafted = HandIn("ben", AID, {next(iter(good.files)): json.dumps(
        {"nbformat": 1, "metadata": {}, "cells": [{"cell_type": "bogus"}]}).encode()}, NOW)
    ex = CourseExchange(course_file)
    try:
        outcomes = commit_batch(ex, [crafted, good])
    finally:
        ex.close()
    assert "not a valid notebook" in str(outcomes[0])
    assert isinstance(outcomes[1], dict)
    assert [r.student_id for r in stored_receipts(course_file)] == ["ada"]


def keyed(item: HandIn, key: str) -> HandIn:
    return HandIn(item.student_id, item.assignment_id, item.files, item.received_at, key=key)


def test_a_keyed_hand_in_is_stored_once_however_often_it_is_sent(course_file, monkeypatch):
    """The platform's client sends an idempotency key with every hand-in; its retries (in the
    same batch, or a later one) get the first receipt, other content under the key is refused
    alone (409), and another student's use of the same key is their own hand-in."""
    key = "k" * 20
    first = keyed(hand_in(course_file, "ada", "1"), key)
    ex = CourseExchange(course_file)
    try:
        counts = counting(monkeypatch, ex)
        together = commit_batch(ex, [first, hand_in(course_file, "ben", "b"), first])
        later = commit_batch(ex, [first, keyed(hand_in(course_file, "ada", "other"), key),
                                  keyed(hand_in(course_file, "cleo", "c"), key)])
    finally:
        ex.close()
    assert all(isinstance(o, dict) for o in together), together
    assert together[0]["receipt_id"] == together[2]["receipt_id"] == later[0]["receipt_id"]
    assert isinstance(later[1], KeyReused) and "another hand-in" in str(later[1])
    assert isinstance(later[2], dict) and later[2]["student_id"] == "cleo"
    assert counts["commit"] == 2
    rows = stored_receipts(course_file)
    assert sorted(r.student_id for r in rows) == ["ada", "ben", "cleo"]
    (ada,) = [r for r in rows if r.student_id == "ada"]
    assert read_submission_folder(course_file.parent / ada.storage_path) == first.files
    folders = [p for p in inbox_folders(course_file, AID) if p.parent.name == "ada"]
    assert [p.name for p in folders] == [Path(ada.storage_path).name]  # once, nothing staged


def test_the_quota_counts_the_hand_ins_ahead_in_the_same_batch(course_file):
    first = hand_in(course_file, "ada", "1")
    size = sum(len(c) for c in first.files.values())
    ex = CourseExchange(course_file, max_stored_bytes=size * 3 // 2)  # one fits, two do not
    try:
        outcomes = commit_batch(ex, [first, hand_in(course_file, "ada", "2"),
                                     hand_in(course_file, "ben", "1")])
    finally:
        ex.close()
    assert isinstance(outcomes[0], dict) and isinstance(outcomes[2], dict)
    assert isinstance(outcomes[1], QuotaExceeded)
    assert sorted(r.student_id for r in stored_receipts(course_file)) == ["ada", "ben"]


def test_a_failed_flush_acknowledges_nothing_and_leaves_nothing(course_file, monkeypatch):
    real_sync, calls = inbox.sync_file_system, []

    def failing(folder):  # the flush after the renames fails (a full or failing disk)
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        real_sync(folder)

    monkeypatch.setattr(inbox, "sync_file_system", failing)
    ex = CourseExchange(course_file)
    try:
        outcomes = commit_batch(ex, [hand_in(course_file, s, s) for s in ("ada", "ben")])
        assert all(isinstance(o, OSError) for o in outcomes), outcomes
        # the session goes on: the next batch is received
        monkeypatch.setattr(inbox, "sync_file_system", real_sync)
        (after,) = commit_batch(ex, [hand_in(course_file, "cleo", "c")])
    finally:
        ex.close()
    assert isinstance(after, dict)
    assert [r.student_id for r in stored_receipts(course_file)] == ["cleo"]
    assert [p.parent.name for p in inbox_folders(course_file, AID)] == ["cleo"]


# -- a real exchange process killed between writing a batch and committing it ---------------
CHILD = textwrap.dedent("""
    import os, signal, sys, asyncio
    from exchange import group_commit
    from exchange.service import ExchangeService

    class TokenIsTheName(ExchangeService):
        async def authenticate(self, handler, *, cached=False):
            return {"name": self.hub_auth.get_token(handler, in_cookie=False), "kind": "user"}

    real, batches = group_commit.make_durable, []

    def dying(ws, staged):  # the second batch: written, renamed, flushed; killed before commit
        batches.append(len(staged))
        if len(batches) >= 2:
            service.served["dl-test"].exchange.gb.commit = \
                lambda: os.kill(os.getpid(), signal.SIGKILL)
        real(ws, staged)

    group_commit.make_durable = dying
    service = TokenIsTheName(courses=[sys.argv[1]], port=int(sys.argv[2]))
    asyncio.run(service.run_forever(ready=lambda: print("ready", flush=True)))
""")


def test_a_crash_between_write_and_commit_acknowledges_nothing_undurable(course_file):
    from devhub.localhub import free_port

    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(course_file), str(port)],
                             cwd=REPO, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "JUPYTERHUB_SERVICE_PREFIX": "/x/"})
    url = f"http://127.0.0.1:{port}/x/api/courses/dl-test/submissions/{AID}"
    sent: dict[str, dict] = {}
    acked, failed, lock = [], [], threading.Lock()

    def submit(student: str, note: str) -> None:
        name, content = notebook(course_file, note)
        sent[note] = {name: content}
        try:
            reply = requests.post(url, timeout=60, headers={"Authorization": f"token {student}"},
                                  data=json.dumps({"files": {name: base64.b64encode(content).decode()}}))
        except requests.RequestException:
            with lock:
                failed.append(note)
            return
        with lock:
            (acked if reply.status_code == 201 else failed).append(
                (note, reply.json()) if reply.status_code == 201 else note)

    try:
        assert child.stdout.readline().strip() == "ready"
        submit("ada", "first")  # a batch of its own, committed
        assert [note for note, _ in acked] == ["first"], failed
        threads = [threading.Thread(target=submit, args=(s, f"{s}-{i}"))
                   for i in range(3) for s in ("ada", "ben", "cleo")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert child.wait(60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert len(failed) >= 1 and len(acked) + len(failed) == 10
    rows = {row.id: row for row in stored_receipts(course_file)}
    for note, reply in acked:  # every acknowledged hand-in: in the gradebook and on disk
        row = rows[reply["receipt_id"]]
        assert row.sha256 == digest(sent[note])
        assert read_submission_folder(course_file.parent / row.storage_path) == sent[note]
    assert len(rows) == len(acked)  # the killed batch has no receipt
    named = {row.storage_path for row in rows.values()}
    unnamed = [p for p in inbox_folders(course_file, AID)
               if p.relative_to(course_file.parent).as_posix() not in named]
    assert unnamed, "the kill should have come after the killed batch was written"


def finished_within(seconds: float, func):
    """``func()``'s result, or a failure (not a hang) if it has not returned after ``seconds``."""
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("result", func()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s"
    return done["result"]


@pytest.mark.postgres
def test_a_student_held_too_long_elsewhere_is_refused_busy_and_nothing_is_stored(
        make_course, postgres_url, monkeypatch):
    """Another exchange process holds ada's hand-ins (its disk stalled, or it was cut off without
    closing its connection): her hand-in waits ``HOLD_TIMEOUT_S``, not for ever; the batch is
    refused (StudentBusy; HTTP 503, which the platform's client retries) with nothing stored,
    and goes through once the hold ends."""
    monkeypatch.setattr(inbox, "HOLD_TIMEOUT_S", 0.3)
    course_file = publish(make_course(BASE_COURSE, assignments=(AID,), db_url=postgres_url), AID)
    batch = [hand_in(course_file, "ada", "a"), hand_in(course_file, "ben", "b")]
    other, ex = CourseExchange(course_file), CourseExchange(course_file)
    try:
        inbox.hold_student(other.gb, "ada")  # the other process's batch, open
        outcomes = finished_within(30, lambda: commit_batch(ex, batch))
        assert all(isinstance(o, StudentBusy) for o in outcomes), outcomes
        assert "ada" in str(outcomes[0]) and "submit again" in str(outcomes[0])
        assert stored_receipts(course_file) == [] and inbox_folders(course_file, AID) == []
        status, reply = finished_within(30, lambda: request(
            course_file, "ada", "POST", f"submissions/{AID}",
            {"files": wire.encode_files(batch[0].files)}))
        assert status == 503 and "submit again" in reply["error"], (status, reply)
        assert stored_receipts(course_file) == []
        other.gb.session.rollback()  # the hold ends
        outcomes = commit_batch(ex, batch)
        assert all(isinstance(o, dict) for o in outcomes), outcomes
        assert sorted(r.student_id for r in stored_receipts(course_file)) == ["ada", "ben"]
    finally:
        other.close()
        ex.close()

"""The dashboard reuses the standing only while nothing it is judged from changed
(dashboard/cache.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os

from small_courses import utc

from course.gradebook.records import (
    add_receipt,
    finish_run,
    grant_extension,
    record_release,
    revoke_extension,
    start_run,
)
from course.standing import standing_data
from course.workspace import open_workspace
from dashboard.cache import StandingCache

NOW = utc(2026, 10, 24, 10)  # before 01-numpy's deadline, Sun 2026-10-25 18:00 Berlin


def _state(data: dict, student: str, assignment: str = "01-numpy") -> str:
    (entry,) = [s for s in data["students"] if s["id"] == student]
    return entry["assignments"][assignment]["state"]


def test_reused_until_a_fact_changes_or_a_deadline_passes(make_course, db_url):
    ws = open_workspace(make_course(db_url=db_url))
    with ws.gradebook() as gb:
        record_release(gb, "01-numpy", "0" * 64, now=utc(2026, 10, 19, 12))
        gb.commit()
    cache = StandingCache(max_age=600)
    first = cache.get(ws, NOW)
    assert _state(first, "ben") == "pending"
    later = NOW + dt.timedelta(minutes=5)
    again = cache.get(ws, later)
    assert (cache.hits, cache.misses) == (1, 1)
    assert again == {**standing_data(ws, later), "as_of_utc": again["as_of_utc"]}
    assert again["as_of_utc"] == "2026-10-24T10:05:00Z"

    with ws.gradebook() as gb:  # each change the policy reads is seen at once
        receipt = add_receipt(gb, student_id="ada", assignment_id="01-numpy",
                              received_at=utc(2026, 10, 24, 9), sha256="a" * 64, size_bytes=1,
                              storage_path="inbox/x", client_timestamp=None)
        gb.commit()
    assert _state(cache.get(ws, later), "ada") == "on_time" and cache.misses == 2
    with ws.gradebook() as gb:
        run = start_run(gb, "ada", "01-numpy", receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=4.0, max_score=10.0)
    entry = cache.get(ws, later)["students"][0]["assignments"]["01-numpy"]
    assert entry["score"] == 4.0 and cache.misses == 3
    with ws.gradebook() as gb:
        grant_extension(gb, "ben", "01-numpy", utc(2026, 10, 28, 17), "ill", by="ina")
        gb.commit()
    assert cache.get(ws, later)["students"][1]["assignments"]["01-numpy"][
        "effective_due_utc"] == "2026-10-28T17:00:00Z"
    assert cache.misses == 4
    cache.get(ws, later)
    assert cache.misses == 4  # nothing changed: reused

    # the deadline passes: cleo is now missing, though no fact changed
    after_due = utc(2026, 10, 25, 17, 1)
    assert _state(cache.get(ws, after_due), "cleo") == "missing" and cache.misses == 5
    assert _state(cache.get(ws, after_due), "ben") == "pending"  # extended
    assert cache.misses == 5
    # ben's extended deadline passes
    assert _state(cache.get(ws, utc(2026, 10, 28, 17, 1)), "ben") == "missing"
    assert cache.misses == 6
    with ws.gradebook() as gb:
        revoke_extension(gb, "ben", "01-numpy", "granted by mistake",
                         now=utc(2026, 10, 28, 18), by="ina")
        gb.commit()
    cache.get(ws, utc(2026, 10, 28, 18, 1))
    assert cache.misses == 7


def test_a_changed_course_file_or_age_means_judging_again(make_course):
    ws = open_workspace(make_course())
    cache = StandingCache(max_age=60)
    cache.get(ws, NOW)
    cache.get(ws, NOW + dt.timedelta(seconds=59))
    assert cache.misses == 1
    cache.get(ws, NOW + dt.timedelta(seconds=61))
    assert cache.misses == 2
    stat = ws.course_file.stat()
    os.utime(ws.course_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    cache.get(ws, NOW + dt.timedelta(seconds=62))
    assert cache.misses == 3

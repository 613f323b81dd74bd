"""Roles and ids at the exchange, against the real service (``ExchangeService``: its routes, its
roster thread, its stores) on a loopback port; only the hub's answer about a token is replaced
(a real subclass, one method): ``Authorization: token gus`` is gus.

- a grader removed from the course file's roster is refused (403) from his very next request,
  for every staff action, also when the course file is rewritten in the same clock tick as
  before (same modification time, same inode, even the same size);
- an id in a route that no gradebook row can have (2**63, 2**64, a 5000-digit number, -1, not a
  number) is a 404 in JSON, never a 500 (any student can send one), and the exchange goes on.

No test reads the clock: the exchange's "now" is ``NOW`` (``frozen_now``).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
import requests
from exchange_requests import publish
from small_courses import BASE_COURSE, rewrite_in_place, utc

from course import calendar
from course.inbox import receive
from course.workspace import open_workspace
from exchange import wire
from exchange.service import ExchangeService

NOW = utc(2026, 10, 24, 10)  # before 01-numpy's deadline
AID = "01-numpy"
GRADER_LINE = "  graders:\n    - {id: gus, first_name: Gus}\n"
INSTRUCTOR_LINE = "    - {id: ina, first_name: Ina, last_name: Structor}\n"
COURSE = BASE_COURSE.replace(INSTRUCTOR_LINE, INSTRUCTOR_LINE + GRADER_LINE)
BAD_IDS = [str(2**64), str(2**63), str(2**63 - 1), str(2**31), str(2**31 - 1), "-1", "0",
           "99999999999999999999999", "abc", "1e3", "9" * 5000]
CLOCK_USERS = ("course.gradebook.records", "course.inbox", "course.summaries", "course.collect",
               "course.store", "exchange.service", "exchange.handlers")


class TokenIsTheName(ExchangeService):
    """The exchange with the hub's answer about a token replaced: the token is its user."""

    async def authenticate(self, handler, *, cached=False):
        from tornado import web

        token = self.hub_auth.get_token(handler, in_cookie=False)
        if not token:
            raise web.HTTPError(401, "no token")
        return {"name": token, "kind": "user"}


@contextmanager
def serving(course_file: Path):
    """The exchange of ``course_file`` on a loopback port, on a thread of its own; yields
    ``call(user, method, path, body=None)`` -> the reply, ``path`` under the course's API."""
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    service = TokenIsTheName(courses=[str(course_file)])
    ready, box = threading.Event(), {}

    async def serve():
        sock, port = bind_unused_port(address="127.0.0.1")
        server = HTTPServer(service.make_app(), max_body_size=service.max_body_bytes)
        server.add_sockets([sock])
        box.update(port=port, loop=asyncio.get_running_loop(), stop=asyncio.Event())
        ready.set()
        await box["stop"].wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(60), "the exchange did not start"
    api = f"http://127.0.0.1:{box['port']}{service.base_url}{wire.API}/"

    def call(user, method, path, body=None):
        return requests.request(method, api + path, headers={"Authorization": f"token {user}"},
                                json=body, timeout=60)

    try:
        yield call
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
        service.close()


@pytest.fixture
def frozen_now(monkeypatch):
    """The platform's clock reads ``NOW`` (every module that took ``utcnow`` is loaded first, so
    none keeps the stand-in after the test)."""
    original = calendar.utcnow
    for name in CLOCK_USERS:
        importlib.import_module(name)
    monkeypatch.setattr(calendar, "utcnow", lambda: NOW)
    for module in list(sys.modules.values()):
        if getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", lambda: NOW)
    return NOW


@pytest.fixture
def course(make_course, db_url, frozen_now) -> tuple[Path, int, bytes]:
    """dl-test with ina (instructor), gus (grader), ada, ben, cleo; 01-numpy released and
    handed in by ada: (the course file, ada's receipt id, the notebook)."""
    root = make_course(COURSE, assignments=(AID,), db_url=db_url)
    course_file = publish(root, AID)
    (source,) = (root / "assignments" / AID).glob("*.ipynb")
    notebook = nbformat.writes(nbformat.read(source, as_version=4)).encode()
    ws = open_workspace(course_file)
    with ws.gradebook() as gb:
        receipt = receive(ws, gb, "ada", AID, {source.name: notebook},
                          received_at=utc(2026, 10, 24, 9))
    return course_file, receipt.id, notebook


# how each roster edit takes gus out, in the same clock tick as the file's last change (a plain
# edit later on is tests/exchange/test_exchange_hub.py's student removal): dropped, or replaced
# by someone of a name as long, so that only the content says the file changed
EDITS = {
    "removed-same-tick": lambda text: text.replace(GRADER_LINE, ""),
    "replaced-same-size-same-tick": lambda text: text.replace("{id: gus,", "{id: gil,"),
}


def _staff_actions(receipt: int, notebook: bytes) -> list[tuple[str, str, dict | None]]:
    release = {"files": wire.encode_files({"numpy-basics.ipynb": notebook}), "force": True}
    feedback = {"files": wire.encode_files({"numpy-basics.html": b"<p>ok</p>"}),
                "receipt_id": receipt}
    course = "courses/dl-test"
    return [
        ("GET", f"{course}/submissions", None),
        ("GET", f"{course}/submissions?student_id=ada", None),
        ("GET", f"{course}/submissions/{AID}/ada/{receipt}", None),
        ("GET", f"{course}/feedback?student_id=ada", None),
        ("GET", f"{course}/assignments", None),
        ("GET", f"{course}/assignments/{AID}", None),
        ("PUT", f"{course}/feedback/{AID}/ada", feedback),
        ("POST", f"{course}/collect/{AID}", {}),
        ("PUT", f"{course}/assignments/{AID}", release),
        ("DELETE", f"{course}/assignments/{AID}", None),
    ]


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_grader_removed_from_the_roster_is_refused_at_his_next_request(course, edit):
    course_file, receipt, notebook = course
    text = course_file.read_text()
    with serving(course_file) as call:
        reply = call("gus", "GET", "courses")  # he works: the roster thread has read the file
        assert reply.status_code == 200 and reply.json()["courses"][0]["role"] == "grader"
        for method, path, _ in _staff_actions(receipt, notebook)[:4]:
            assert call("gus", method, path).status_code == 200, path
        rewrite_in_place(course_file, EDITS[edit](text), same_tick="same-tick" in edit)
        for method, path, body in _staff_actions(receipt, notebook):
            reply = call("gus", method, path, body)
            assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
            assert "gus is not in the roster of dl-test" in reply.json()["error"]
        assert call("gus", "GET", "courses").status_code == 403
        # nothing he asked for was done; the others are not affected
        assert (course_file.parent / "exchange" / "dl-test" / "outbound" / AID).is_dir()
        assert not (course_file.parent / "exchange" / "dl-test" / "feedback").exists()
        assert call("ina", "GET", "courses/dl-test/submissions").status_code == 200
        rewrite_in_place(course_file, text, same_tick="same-tick" in edit)
        assert call("gus", "GET", "courses/dl-test/submissions").status_code == 200


def test_ids_no_row_can_have_are_404_and_the_exchange_goes_on(course):
    course_file, receipt, _ = course
    course = "courses/dl-test"
    with serving(course_file) as call:
        for user in ("ada", "ina", "gus"):
            for bad in BAD_IDS:
                reply = call(user, "GET", f"{course}/submissions/{AID}/ada/{bad}")
                assert reply.status_code == 404, (user, bad[:30], reply.status_code)
                assert reply.json()["status"] == 404
        for bad in BAD_IDS:  # a student's session summary
            reply = call("ada", "POST", f"{course}/summaries/{bad}", {"files": {}})
            assert reply.status_code == 404, (bad[:30], reply.status_code, reply.text[:200])
            assert reply.json()["status"] == 404
        feedback = {"files": wire.encode_files({"numpy-basics.html": b"<p>ok</p>"})}
        for number in (2**64, 2**63, 2**31, -1, 0, receipt + 1, str(2**64), "-1", "abc"):
            reply = call("ina", "PUT", f"{course}/feedback/{AID}/ada",  # staff name it in the body
                         {**feedback, "receipt_id": number})
            assert reply.status_code == 404, (number, reply.status_code, reply.text[:200])
        for wrong in (True, 1.0, [receipt], {"id": receipt}):  # not a number: malformed
            reply = call("ina", "PUT", f"{course}/feedback/{AID}/ada",
                         {**feedback, "receipt_id": wrong})
            assert reply.status_code == 400, (wrong, reply.status_code, reply.text[:200])
        # it still answers, on the same database session
        reply = call("ada", "GET", f"{course}/submissions/{AID}/ada/{receipt}")
        assert reply.status_code == 200 and reply.json()["receipt_id"] == receipt
        for named in (receipt, str(receipt)):  # as receipt.json holds it, or as text
            reply = call("ina", "PUT", f"{course}/feedback/{AID}/ada",
                         {**feedback, "receipt_id": named})
            assert reply.status_code == 200, reply.text
        listing = call("ada", "GET", f"{course}/feedback").json()["feedback"]
        assert [item["receipt_id"] for item in listing] == [receipt]

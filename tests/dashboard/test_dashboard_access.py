"""Who may do what in the dashboard, against the real service (``DashboardService``, its routes,
its data thread, its templates) on a loopback port; only the hub's answer about a login is
replaced (a real subclass of ``HubOAuth``, one method): ``Authorization: token gus`` is gus.

- roles come from the course file as it is at each request: a grader (or instructor) removed
  from the roster is refused from his very next request, also when the course file is rewritten
  in the same clock tick as before (same modification time, same inode, even the same size);
- graders see every staff page but act nowhere: granting or revoking extensions and excuses and
  drawing presenters are the instructors' (403, nothing written, no form shown);
- a feedback route's receipt id that no gradebook row can have (2**63, 2**64, ...) or that is no
  number is a 404, never a 500, and the service goes on answering.

No test reads the clock: the service's "now" is ``NOW`` (``frozen_now``).
"""

from __future__ import annotations

import asyncio
import importlib
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from jupyterhub.services.auth import HubOAuth
from small_courses import BASE_COURSE, rewrite_in_place, utc
from sqlalchemy import func, select

from course import calendar
from course.gradebook.models import Excuse, Extension, Presentation
from course.gradebook.records import add_receipt
from course.store import CourseExchange
from course.workspace import open_workspace
from dashboard.service import DashboardService

NOW = utc(2026, 10, 24, 10)  # before 01-numpy's deadline (Sun 2026-10-25 18:00 Berlin)
AID = "01-numpy"
FEEDBACK = "numpy-basics.html"
GRADER_LINE = "  graders:\n    - {id: gus, first_name: Gus}\n"
INSTRUCTOR_LINE = "    - {id: ina, first_name: Ina, last_name: Structor}\n"
COURSE = BASE_COURSE.replace(INSTRUCTOR_LINE, INSTRUCTOR_LINE
                             + "    - {id: ivy, first_name: Ivy}\n" + GRADER_LINE)
BAD_IDS = [str(2**64), str(2**63), str(2**63 - 1), str(2**31), str(2**31 - 1), "-1", "0",
           "99999999999999999999999", "abc", "1e3", "9" * 5000]
CLOCK_USERS = ("course.gradebook.records", "course.presenters", "course.inbox",
               "course.summaries", "course.store", "exchange.service", "exchange.handlers",
               "dashboard.service", "dashboard.forms", "dashboard.data", "dashboard.cache")


class HubSaysTheTokenIsTheName(HubOAuth):
    """The hub's answer about a token, for a test: the token is its user's name."""

    async def _check_hub_authorization(self, url, api_token, cache_key=None, use_cache=True):
        return {"kind": "user", "name": api_token, "admin": False, "groups": [],
                "scopes": ["access:services!service=dashboard"]}


class Dashboard(DashboardService):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hub_auth = HubSaysTheTokenIsTheName(cache_max_age=0, base_url=self.base_url)


class Client:
    """requests to the running dashboard as one user (a session: the XSRF cookie is kept)."""

    def __init__(self, base: str, user: str):
        self.base, self.user = base, user
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {user}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, allow_redirects=False, timeout=60)

    def post(self, path: str, form: dict) -> requests.Response:
        if "_xsrf" not in self.session.cookies:  # a page view sets it, as in the browser
            assert self.get("course" if self.user != "ada" else "me").status_code == 200
        return self.session.post(self.base + path, allow_redirects=False, timeout=60,
                                 data={"_xsrf": self.session.cookies["_xsrf"], **form})


@contextmanager
def serving(course_file: Path):
    """The dashboard of ``course_file`` on a loopback port, on a thread of its own; yields a
    function that makes a ``Client`` for a user."""
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    service = Dashboard(course=str(course_file))
    ready, box = threading.Event(), {}

    async def serve():
        sock, port = bind_unused_port(address="127.0.0.1")
        server = HTTPServer(service.make_app(), max_body_size=64 * 1024)
        server.add_sockets([sock])
        box.update(port=port, loop=asyncio.get_running_loop(), stop=asyncio.Event())
        ready.set()
        await box["stop"].wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(60), "the dashboard did not start"
    base = f"http://127.0.0.1:{box['port']}{service.base_url}"
    try:
        yield lambda user: Client(base, user)
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
        service._pool.shutdown(wait=True)


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
def course_file(make_course, db_url, frozen_now) -> Path:
    """dl-test with ina and ivy (instructors), gus (grader), ada, ben, cleo; ada handed in
    01-numpy and has feedback back."""
    root = make_course(COURSE, db_url=db_url)
    course_file = root / "course.yml"
    ws = open_workspace(course_file)
    folder = root / "inbox" / AID / "ada" / "received"
    folder.mkdir(parents=True)
    (folder / "numpy-basics.ipynb").write_text("{}")
    with ws.gradebook() as gb:
        add_receipt(gb, student_id="ada", assignment_id=AID, received_at=utc(2026, 10, 24, 9),
                    sha256="a" * 64, size_bytes=2, client_timestamp=None,
                    storage_path=str(folder.relative_to(root)))
        gb.commit()
    exchange = CourseExchange(course_file)
    try:
        (receipt,) = exchange.receipts(student_id="ada")
        exchange.release_feedback(receipt, {FEEDBACK: b"<html><body>well done</body></html>"})
    finally:
        exchange.close()
    return course_file


def _receipt_id(course_file: Path) -> int:
    exchange = CourseExchange(course_file)
    try:
        (receipt,) = exchange.receipts(student_id="ada")
        return receipt.id
    finally:
        exchange.close()


# how each roster edit takes gus out: dropped, or replaced by someone else of a name as long,
# so that only the content says the file changed
EDITS = {
    "removed": lambda text: text.replace(GRADER_LINE, ""),
    "removed-same-tick": lambda text: text.replace(GRADER_LINE, ""),
    "replaced-same-size-same-tick": lambda text: text.replace("{id: gus,", "{id: gil,"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_grader_removed_from_the_roster_is_refused_at_his_next_request(course_file, edit):
    receipt = _receipt_id(course_file)
    staff_pages = ["course", f"assignments/{AID}", f"assignments/{AID}/progress",
                   "students/ada", f"feedback/{receipt}/{FEEDBACK}", ""]
    text = course_file.read_text()
    with serving(course_file) as client:
        gus, ina = client("gus"), client("ina")
        for path in staff_pages:  # he works, and each page has read the course file as it was
            reply = gus.get(path)
            assert reply.status_code in (200, 302), (path, reply.status_code)
        rewrite_in_place(course_file, EDITS[edit](text), same_tick="same-tick" in edit)
        for path in staff_pages:
            reply = gus.get(path)
            assert reply.status_code == 403, (path, reply.status_code)
            assert "gus is not in the roster of dl-test" in reply.text
        assert ina.get("course").status_code == 200  # the others are not affected
        rewrite_in_place(course_file, text, same_tick="same-tick" in edit)
        assert gus.get("course").status_code == 200  # back in the roster: back in


def test_an_instructor_removed_from_the_roster_cannot_act_at_her_next_request(course_file):
    text = course_file.read_text()
    ivy_line = "    - {id: ivy, first_name: Ivy}\n"
    form = {"action": "grant", "assignment": AID, "reason": "ill"}
    with serving(course_file) as client:
        ivy = client("ivy")
        assert ivy.get("students/ben").status_code == 200
        rewrite_in_place(course_file, text.replace(ivy_line, ""), same_tick=True)
        reply = ivy.post("students/ben/excuse", form)
        assert reply.status_code == 403, reply.status_code
        assert "ivy is not in the roster of dl-test" in reply.text
        reply = ivy.post(f"assignments/{AID}/draw", {"count": "1"})
        assert reply.status_code == 403, reply.status_code
    with open_workspace(course_file).gradebook() as gb:
        assert gb.session.scalar(select(func.count()).select_from(Excuse)) == 0
        assert gb.session.scalar(select(func.count()).select_from(Presentation)) == 0


ACTIONS = [
    ("students/ben/extension", {"action": "grant", "assignment": AID, "reason": "ill",
                                "until": "2026-11-08 18:00"}),
    ("students/ben/extension", {"action": "revoke", "assignment": AID, "reason": "mistake"}),
    ("students/ben/excuse", {"action": "grant", "assignment": AID, "reason": "ill"}),
    ("students/ben/excuse", {"action": "revoke", "assignment": AID, "reason": "mistake"}),
    (f"assignments/{AID}/draw", {"count": "2"}),
    (f"assignments/{AID}/draw", {}),
]


def test_graders_grade_only_instructors_grant_excuse_or_draw(course_file):
    with serving(course_file) as client:
        gus, ina = client("gus"), client("ina")
        for page in ("students/ben", f"assignments/{AID}"):  # he sees the pages, no forms
            reply = gus.get(page)
            assert reply.status_code == 200 and 'method="post"' not in reply.text, page
        for path, form in ACTIONS:
            reply = gus.post(path, form)
            assert reply.status_code == 403, (path, form, reply.status_code)
            assert "only the course&#39;s instructors" in reply.text or \
                "only the course's instructors" in reply.text, reply.text
        with open_workspace(course_file).gradebook() as gb:
            for table in (Excuse, Extension, Presentation):
                assert gb.session.scalar(select(func.count()).select_from(table)) == 0, table
        # an instructor may: the forms are there, the same POST acts
        assert 'method="post"' in ina.get("students/ben").text
        reply = ina.post("students/ben/excuse", ACTIONS[2][1])
        assert reply.status_code == 303, reply.status_code
        with open_workspace(course_file).gradebook() as gb:
            (excuse,) = gb.session.scalars(select(Excuse)).all()
            assert (excuse.student_id, excuse.granted_by) == ("ben", "ina")


def test_feedback_ids_no_row_can_have_are_404_and_the_service_goes_on(course_file):
    receipt = _receipt_id(course_file)
    with serving(course_file) as client:
        for user in ("ada", "ina", "gus"):
            person = client(user)
            for bad in BAD_IDS:
                reply = person.get(f"feedback/{bad}/{FEEDBACK}")
                assert reply.status_code == 404, (user, bad[:30], reply.status_code)
            reply = person.get(f"feedback/{receipt + 1}/{FEEDBACK}")  # unknown: 404 too
            assert reply.status_code == 404
            reply = person.get(f"feedback/{receipt}/{FEEDBACK}")  # and it still answers
            assert reply.status_code == 200 and "well done" in reply.text, user
        assert client("ben").get(f"feedback/{receipt}/{FEEDBACK}").status_code == 403
        assert re.search(r"<h1", client("ina").get("course").text)

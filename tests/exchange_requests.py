"""One request to the real exchange service, served on a loopback port for that request, as a
given user: the hub's token check is the only part replaced (a real subclass, one method)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from exchange import wire
from exchange.service import ExchangeService


class AsUser(ExchangeService):
    """The exchange with the hub's token check replaced by a fixed user (or service)."""

    user = "ina"
    kind = "user"

    async def authenticate(self, handler, *, cached=False):
        return {"name": self.user, "kind": self.kind}


def request(course_files, user: str, method: str, path: str, body: dict | None = None, *,
            kind: str = "user", **settings) -> tuple[int, dict]:
    """``METHOD api/<path>`` as ``user`` (a hub user, or a service with ``kind="service"``) on an
    exchange serving ``course_files`` (one path or a list); returns (status, JSON reply). A
    ``path`` that does not start with ``courses`` is taken as under the only course's route."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    files = course_files if isinstance(course_files, list) else [course_files]

    async def send():
        service = AsUser(courses=[str(f) for f in files], **settings)
        service.user, service.kind = user, kind
        sock, port = bind_unused_port(address="127.0.0.1")
        server = HTTPServer(service.make_app())
        server.add_sockets([sock])
        try:
            route = path
            if not path.startswith("courses"):
                (course_id,) = service.served
                route = f"courses/{course_id}/{path}"
            url = f"http://127.0.0.1:{port}{service.base_url}{wire.API}/{route}"
            reply = await AsyncHTTPClient().fetch(
                url, method=method, body=None if body is None else json.dumps(body),
                raise_error=False)
            return reply.code, json.loads(reply.body)
        finally:
            server.stop()
            service.close()

    return asyncio.run(send())


def publish(root: Path, assignment_id: str, course_id: str = "dl-test") -> Path:
    """Put an assignment's source notebooks where the exchange serves released ones (what
    `course release` leaves there, without nbgrader's generate step); returns course.yml."""
    outbound = root / "exchange" / course_id / "outbound" / assignment_id
    outbound.mkdir(parents=True)
    for notebook in (root / "assignments" / assignment_id).glob("*.ipynb"):
        shutil.copy(notebook, outbound / notebook.name)
    return root / "course.yml"


def stored_receipts(course_file: Path) -> list:
    """Every receipt in the course's gradebook, in the order written (detached from it)."""
    from course.gradebook import Receipt
    from course.workspace import open_workspace

    with open_workspace(course_file).gradebook() as gb:
        rows = list(gb.session.query(Receipt).order_by(Receipt.id))
        gb.session.expunge_all()
    return rows


def inbox_folders(course_file: Path, assignment_id: str) -> list[Path]:
    """The hand-in folders on disk for one assignment (``inbox/<aid>/<student>/<stamp>``)."""
    inbox = course_file.parent / "inbox" / assignment_id
    return sorted(inbox.glob("*/*")) if inbox.is_dir() else []


def hand_in(ex, student: str, assignment_id: str, files: dict[str, bytes], received_at) -> dict:
    """One hand-in to ``ex`` (a ``CourseExchange``) as the exchange receives it, by group commit
    (``exchange.group_commit.commit_batch``, a batch of one): its reply, or what refused it,
    raised."""
    from exchange.group_commit import HandIn, commit_batch

    (outcome,) = commit_batch(ex, [HandIn(student, assignment_id, files, received_at)])
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome

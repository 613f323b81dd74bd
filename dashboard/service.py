"""The course dashboard as a JupyterHub service: a small tornado app behind the hub's OAuth.

A person opens ``/services/dashboard/`` in the browser; the hub logs them in (``HubOAuth``: the
service never sees a password) and only users whose roles grant
``access:services!service=dashboard`` get through (hub_config.roles gives it to the course's
groups). The course role comes from the roster, as in the exchange, read before every request from
the course file as it is then (parsed again whenever ``course.fresh_course.course_file_stamp`` changed)
and checked again on the data thread, against the same course file the request's work sees: a
person removed from the roster is refused from their next request on. Instructors and graders see
every page; only instructors act (extensions, excuses, drawing presenters: graders grade, in the
formgrader), but for regrade requests, which graders reject too (and accept where the course
file says ``graders_may_accept``: an accept sets a score, like an override); a student
sees their own page only (and asks for regrades there), every other page is a 403.

Routes, under the service prefix (``$JUPYTERHUB_SERVICE_PREFIX``):

    GET  .                           staff: to course; students: to me
    GET  course                      staff: the overview
    GET  assignments/A               staff: one assignment
    GET  assignments/A/progress      staff: grading progress (JSON, the page polls it)
    GET  assignments/A/similarity/S/T  staff: the code of students S and T side by side, the
                                     parts found in both marked (a hint, never a penalty)
    POST assignments/A/draw          instructors: draw presenters
    GET  students/S                  staff: one student
    POST students/S/extension        instructors: grant or revoke an extension
    POST students/S/excuse           instructors: grant or revoke an excuse
    GET  me                          students: my standing
    POST me/regrades                 students: ask for a regrade of a test or cell of my work
    POST regrades/N                  staff: reject a regrade request; instructors (graders
                                     where allowed): accept it with a new score
    POST me/late-days                students: spend or withdraw my late days on one
                                     assignment (policy.late_days spent on_request)
    GET  feedback/R/NAME             a returned feedback file (staff: any; students: their own);
                                     a receipt id no row can have (past the gradebook's
                                     INTEGER) is a 404 like an unknown one
    GET  static/...                  the page's CSS and script (nothing is fetched elsewhere)

Every POST needs the ``_xsrf`` field of the page it came from (JupyterHub's XSRF token, tied to
the login); actions call the same library functions as ``course extend``, ``course excuse`` and
``course draw`` and are recorded with the instructor's name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Float, Integer, Unicode, default
from traitlets.config import LoggingConfigurable

from course import calendar
from course.blank_work import released_notebooks
from course.code_similarity import MAX_CODE_CHARS
from course.fresh_course import course_file_stamp
from course.roles import role_in
from course.similarity import compare_pair, pair_inputs
from course.store import row_id
from course.workspace import Workspace, open_workspace

from . import data, pages
from .cache import StandingCache
from .forms import (
    DrawHandler,
    GrantHandler,
    LateDaysHandler,
    RegradeAnswerHandler,
    RegradeAskHandler,
)
from .handler_base import BaseHandler
from .regrades import assignment_regrades, student_regrades
from .similar_jobs import SimilarityJobs

__all__ = ["DashboardService", "main"]

log = logging.getLogger("dashboard")
STATIC = Path(__file__).resolve().parent / "static"


class IndexHandler(BaseHandler):
    def get(self):
        self.redirect(url_path_join(self.service.base_url, "course" if self.staff else "me"))


class OverviewHandler(BaseHandler):
    async def get(self):
        self.require_staff()
        now = calendar.utcnow()
        ws, context = await self.run(lambda ws: (ws, data.course_page(
            ws, now, standing=self.service.standing.get(ws, now))))
        self.page("overview.html", {"ws": ws, **context}, now)


class AssignmentHandler(BaseHandler):
    async def get(self, assignment_id):
        self.require_staff()
        now = calendar.utcnow()

        def build(ws):
            context = data.assignment_page(ws, assignment_id, now,
                                           standing=self.service.standing.get(ws, now))
            context.update(assignment_regrades(ws, assignment_id, role=self.role,
                                               standing=context["standing"]))
            released = released_notebooks(ws, assignment_id)
            return ws, {**context, "plots": pages.assignment_plots(context, ws.course.zone),
                        "released": bool(released),
                        "compared": pair_inputs(ws, assignment_id, released=released)}

        ws, context = await self.run(build)
        # compared on the similarity thread, not the data thread: the first look after a
        # restart fingerprints every hand-in, and no other page waits for that
        compared = context.pop("compared")
        listing = (await self.service.similarity.listing(compared)) if compared else None
        context.update(similar=[] if listing is None else listing.pairs,
                       similar_failed=bool(listing and listing.failed))
        self.page("assignment.html", {"ws": ws, **context}, now)


class ProgressHandler(BaseHandler):
    async def get(self, assignment_id):
        self.require_staff()

        def progress(ws):
            ws.course.assignment(assignment_id)
            with ws.gradebook() as gb:
                return data.grading_progress(ws, gb, assignment_id).counts()

        self.set_header("Cache-Control", "no-store")
        self.finish(await self.run(progress))


class SimilarityPairHandler(BaseHandler):
    """Two students' code side by side (staff only): ids not in the roster are 404s, checked
    before any file is read (``compare_pair``)."""

    async def get(self, assignment_id, first, second):
        self.require_staff()
        now = calendar.utcnow()
        ws, comparison = await self.run(
            lambda ws: (ws, compare_pair(ws, assignment_id, first, second)))
        self.page("similarity_pair.html", {"ws": ws, "comparison": comparison,
                                           "assignment": ws.course.assignment(assignment_id),
                                           "max_code_chars": MAX_CODE_CHARS}, now)


class StudentHandler(BaseHandler):
    async def get(self, student_id):
        self.require_staff()
        now = calendar.utcnow()
        ws, context = await self.run(lambda ws: (ws, {**data.student_page(
            ws, student_id, now, staff=True, standing=self.service.standing.get(ws, now)),
            **student_regrades(ws, student_id, now, staff=True, role=self.role,
                               standing=self.service.standing.get(ws, now))}))
        self.page("student.html", {"ws": ws, **context}, now)


class MeHandler(BaseHandler):
    async def get(self):
        if self.staff:
            self.redirect(url_path_join(self.service.base_url, "course"))
            return
        now, me = calendar.utcnow(), self.user
        ws, context = await self.run(lambda ws: (ws, {**data.student_page(
            ws, me, now, staff=False, standing=self.service.standing.get(ws, now)),
            "late_day_form": data.late_day_form(ws, me, now),
            **student_regrades(ws, me, now, staff=False)}))
        self.page("me.html", {"ws": ws, **context}, now)


class FeedbackHandler(BaseHandler):
    """A returned feedback file: staff see anyone's, a student their own. The HTML holds what the
    student's notebook printed, so it is served sandboxed: no script in it runs as this site."""

    async def get(self, receipt_id, name):
        number = row_id(receipt_id)  # past what the gradebook holds: never sent to it
        found = None if number is None else await self.run(
            lambda ws: data.feedback_file(ws, number, name))
        if found is None:
            raise web.HTTPError(404, "no such feedback")
        owner, content = found
        if not self.staff and owner != self.user:
            raise web.HTTPError(403, "this feedback is another student's")
        if not self.staff:  # the course file's feedback: when
            now = calendar.utcnow()
            held = await self.run(lambda ws: data.feedback_held(ws, number, now))
            if held is not None:
                raise web.HTTPError(403, held)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.finish(content)


class CallbackHandler(HubOAuthCallbackHandler):
    """The end of the hub's OAuth login: sets the service's cookie, back to the page asked for."""

    def initialize(self, service: DashboardService):
        self.hub_auth = service.hub_auth


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"status": "ok"})


class DashboardService(LoggingConfigurable):
    """Serves one course's dashboard; the hub's environment fills in the rest
    (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_PREFIX``, the OAuth client)."""

    course = Unicode(help="the course file (or its folder)").tag(config=True)
    ip = Unicode("127.0.0.1", help="address to listen on").tag(config=True)
    port = Integer(0, help="port to listen on (0: from $JUPYTERHUB_SERVICE_URL, else 8767)"
                   ).tag(config=True)
    base_url = Unicode(help="URL prefix of every route (default: $JUPYTERHUB_SERVICE_PREFIX, "
                       "else /services/dashboard/)").tag(config=True)
    cache_max_age = Integer(60, help="seconds the hub's answer about a login is reused").tag(
        config=True)
    similarity_wait = Float(1.0, help="seconds the assignment page waits for its alike-code "
                            "list before it says the list is being computed").tag(config=True)

    @default("base_url")
    def _base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboard/")

    @default("port")
    def _port(self):
        from urllib.parse import urlparse

        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return urlparse(url).port if url else 8767

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dashboard-data")
        self._ws, self._stamp = None, None
        self.standing = StandingCache()
        self.similarity = SimilarityJobs(wait=self.similarity_wait)
        self.course_id = self._pool.submit(lambda: self.workspace().course.id).result()
        self.hub_auth = HubOAuth(cache_max_age=self.cache_max_age, base_url=self.base_url)
        self.asset_version = str(int(max(p.stat().st_mtime for p in STATIC.iterdir())))

    def workspace(self) -> Workspace:
        """The course, read again when its file changed (a roster import, a new assignment):
        any edit, even one in place, of the same size, in the same clock tick as the last
        (``course_file_stamp``). Called on the data thread only."""
        path = Path(self.course)
        path = path / "course.yml" if path.is_dir() else path
        stamp = course_file_stamp(path)  # before parsing: what is parsed is never older
        if self._ws is None or stamp != self._stamp:
            self._ws, self._stamp = open_workspace(path), stamp
        return self._ws

    async def role(self, user: str) -> str | None:
        """The user's course role, as the exchange decides it: the roster of the course file
        as it is now (on the data thread, which owns the workspace)."""

        def lookup(ws: Workspace) -> str | None:
            role = role_in(ws.course, user)
            return role.name if role is not None else None

        return await self.call(lookup)

    async def call(self, func):
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, lambda: func(self.workspace()))

    def make_app(self) -> web.Application:
        base = self.base_url
        aid, sid = r"(?P<assignment_id>[A-Za-z0-9][A-Za-z0-9_-]*)", r"(?P<student_id>[^/]+)"
        routes = [
            (url_path_join(base, "oauth_callback"), CallbackHandler),
            (url_path_join(base, "course"), OverviewHandler),
            (url_path_join(base, "assignments", aid), AssignmentHandler),
            (url_path_join(base, "assignments", aid, "progress"), ProgressHandler),
            (url_path_join(base, "assignments", aid, "draw"), DrawHandler),
            (url_path_join(base, "assignments", aid, "similarity", "(?P<first>[^/]+)",
                           "(?P<second>[^/]+)"), SimilarityPairHandler),
            (url_path_join(base, "students", sid), StudentHandler),
            (url_path_join(base, "students", sid, r"(?P<kind>extension|excuse)"), GrantHandler),
            (url_path_join(base, "me"), MeHandler),
            (url_path_join(base, "me", "regrades"), RegradeAskHandler),
            (url_path_join(base, "regrades", r"(?P<request_id>\d+)"), RegradeAnswerHandler),
            (url_path_join(base, "me", "late-days"), LateDaysHandler),
            (url_path_join(base, "feedback", r"(?P<receipt_id>\d+)", "(?P<name>[^/]+)"),
             FeedbackHandler),
            (base, IndexHandler),
        ]
        handlers = [(path, handler, {"service": self}) for path, handler in routes]
        handlers += [
            (url_path_join(base, "health"), HealthHandler),
            (url_path_join(base, "static", "(.*)"), web.StaticFileHandler, {"path": str(STATIC)}),
        ]
        return web.Application(handlers, cookie_secret=secrets.token_bytes(32),
                               xsrf_cookies=True)

    async def run_forever(self, ready=None) -> None:
        server = httpserver.HTTPServer(self.make_app(), max_body_size=64 * 1024)
        server.listen(self.port, self.ip)
        log.info("dashboard for %s on http://%s:%d%s", self.course_id, self.ip, self.port,
                 self.base_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready()
        await stop.wait()
        server.stop()
        await server.close_all_connections()
        self.similarity.shutdown()
        self._pool.shutdown(wait=True)


def main(course: str | Path, *, ip: str = "127.0.0.1", port: int | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[dashboard %(asctime)s] %(message)s")
    kwargs = {"course": str(course), "ip": ip}
    if port:
        kwargs["port"] = port
    started = time.perf_counter()
    service = DashboardService(**kwargs)
    asyncio.run(service.run_forever(ready=lambda: print(
        f"dashboard ready on http://{ip}:{service.port}{service.base_url} "
        f"({time.perf_counter() - started:.1f} s)", flush=True)))
    return 0

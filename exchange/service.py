"""The exchange as a JupyterHub service: a small tornado app, one for every course on the hub.

Every request carries the user's JupyterHub token (``Authorization: token ...``; the single-user
server's ``$JUPYTERHUB_API_TOKEN``). The service asks the hub whose token it is (``HubAuth``,
which caches the answer for ``cache_max_age`` seconds), checks that the token may access this
service (``access:services!service=<name>``), and authorizes by the user's role in the roster
of the course the route names (a user may be a student of one course and an instructor of
another; someone outside a course's roster gets 403 for all of it): students see released
assignments and their own submissions and feedback; instructors and graders release, collect
and return feedback. Nothing the client says about time
or identity is used: the receipt time is this process's clock when the upload has arrived.

Shared fairly (README.md, "JupyterHub and the exchange", its limits and the quota;
ARCHITECTURE.md, "The exchange"): every route authenticates and authorizes from the headers
before a byte of the body is read, and caps its body (uploads at ``max_body_bytes``, others at
``SMALL_BODY``); a state-changing request asks the hub about its token every time (a revoked or
expired token is refused at once), reads reuse the answer for ``cache_max_age`` seconds. The
roster is read on its own thread, and an upload's receipt time is the moment its last byte
arrived (less the time this service held the body back to check the token and role), so no
other request's parsing, file writing or database work, nor a slow hub, can delay it; parsing
and decoding run off the event loop, and an upload holds at most ``course.inbox.MAX_FILES``
files.

Routes, under the service prefix (``$JUPYTERHUB_SERVICE_PREFIX``, e.g. /services/exchange/):

    GET    health                                          no token needed
    GET    api/courses                                     the user's courses, each with a role
    GET    api/courses/C/assignments                       released (students: from release time)
    GET    api/courses/C/assignments/A                     the released files
    PUT    api/courses/C/assignments/A                     staff: release {"files", "force"}
    DELETE api/courses/C/assignments/A                     staff: withdraw a release
    POST   api/courses/C/submissions/A                     students: submit {"files"}
    GET    api/courses/C/submissions[?assignment_id&student_id]   own (students) or all (staff)
    GET    api/courses/C/submissions/A/S/RECEIPT           one submission's files
    POST   api/courses/C/collect/A                         staff: course.collect, with the files
    PUT    api/courses/C/feedback/A/S                      staff: {"receipt_id"|"timestamp", "files"}
    GET    api/courses/C/feedback[?assignment_id&student_id]      own (students) or any (staff)
    POST   api/courses/C/summaries/N                       students: a session summary {"files"}

Errors are JSON ``{"status": code, "error": message}``: 400 malformed, 401 no or unknown token,
403 not allowed for this role or user, 404 not found or not released (or no such course here),
405 no such method on the route, 409 already released, 413 too large or over the per-student
quota. An id in a path that no row can have (not a number, negative, past the gradebook's INTEGER) is a 404 like any unknown
one; it never reaches the database.

Who is asking is ``exchange/auth.py``, the served courses (stores and rosters)
``exchange/courses.py``, each route's handler ``exchange/handlers.py``; this module holds the
application (the routes above) and ``main()``. What is done with the files and the gradebook is
``course.store.CourseExchange``, without HTTP.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.services.auth import HubAuth
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Dict, Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from course.inbox import MAX_FILES, MAX_STORED_BYTES, MAX_SUBMISSION_BYTES
from course.roles import Role

from . import wire
from .auth import EVERY_COURSE, STAFF_SERVICES_ENV, hub_model, parse_staff_services, service_role
from .courses import ServedCourse
from .handlers import (
    AssignmentHandler,
    AssignmentsHandler,
    CollectHandler,
    CoursesHandler,
    FeedbackHandler,
    FeedbackListHandler,
    HealthHandler,
    NoRouteHandler,
    SubmissionFilesHandler,
    SubmissionsHandler,
    SubmitHandler,
    SummaryHandler,
)

__all__ = ["ExchangeService", "ServedCourse", "main", "parse_staff_services"]

log = logging.getLogger("exchange")


class ExchangeService(LoggingConfigurable):
    """Serves the exchange of one course or several (routed by the course id in the path).
    Configured by traits; the hub's environment fills the rest (``JUPYTERHUB_API_TOKEN``,
    ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_SERVICE_PREFIX``, ...)."""

    courses = List(Unicode(), help="the course files (or their folders) whose rosters and "
                   "folders it serves, each under its own course id").tag(config=True)
    ip = Unicode("127.0.0.1", help="address to listen on").tag(config=True)
    port = Integer(0, help="port to listen on (0: from $JUPYTERHUB_SERVICE_URL, else 8765)"
                   ).tag(config=True)
    base_url = Unicode(help="URL prefix of every route (default: $JUPYTERHUB_SERVICE_PREFIX, "
                       "else /services/exchange/)").tag(config=True)
    max_submission_bytes = Integer(MAX_SUBMISSION_BYTES,
                                   help="largest submission accepted, in bytes of file content"
                                   ).tag(config=True)
    max_stored_bytes = Integer(MAX_STORED_BYTES, help="per-student quota: what one student's "
                               "kept submissions (every version of every assignment) may hold "
                               "together, in bytes of file content").tag(config=True)
    max_files = Integer(MAX_FILES, help="most files in one upload").tag(config=True)
    staff_services = Dict(Unicode(), help="hub services whose tokens act as graders (the "
                          "formgraders), each of the course it names ('*': every course); "
                          f"default: ${STAFF_SERVICES_ENV}, e.g. 'formgrader-a=a,formgrader-b=b'"
                          ).tag(config=True)
    cache_max_age = Integer(10, help="seconds the hub's answer about a token is reused for reads "
                            "(state-changing requests always ask the hub)").tag(config=True)

    @default("base_url")
    def _base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/exchange/")

    @default("staff_services")
    def _staff_services(self):
        return parse_staff_services(os.environ.get(STAFF_SERVICES_ENV, ""))

    @default("port")
    def _port(self):
        from urllib.parse import urlparse

        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return urlparse(url).port if url else 8765

    @property
    def max_body_bytes(self) -> int:
        return self.max_submission_bytes * 4 // 3 + 1024 * 1024  # base64 and JSON around it

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.courses:
            raise ValueError("the exchange needs a course file (courses=[...])")
        limits = {"max_submission_bytes": self.max_submission_bytes,
                  "max_stored_bytes": self.max_stored_bytes, "max_files": self.max_files}
        self.served: dict[str, ServedCourse] = {}
        for path in self.courses:
            served = ServedCourse(Path(path), **limits)
            if served.course_id in self.served:
                served.close()
                self.close()
                raise ValueError(f"two course files with the course id {served.course_id!r}: "
                                 f"{self.served[served.course_id].exchange.course_file} and "
                                 f"{path}")
            self.served[served.course_id] = served
        urls: dict[str, str] = {}
        for served in self.served.values():  # receipts of two courses must never mix
            url = served.exchange.ws.db_url
            if url in urls:
                self.close()
                raise ValueError(f"{urls[url]} and {served.course_id} would share one gradebook "
                                 f"({url.split('@')[-1]}): give each course its own "
                                 "(gradebook.url in its course file; $COURSE_DB_URL names one "
                                 "database for every course)")
            urls[url] = served.course_id
        if len(self.served) > 1 and EVERY_COURSE in self.staff_services.values():
            self.close()
            raise ValueError("this exchange serves several courses: name each staff service's "
                             "course ('formgrader-a=a'), or one formgrader would grade them all")
        # role lookups and upload parsing never queue behind the stores' file and database work
        self._roster_pool = ThreadPoolExecutor(1, thread_name_prefix="exchange-roster")
        self._parse_pool = ThreadPoolExecutor(2, thread_name_prefix="exchange-parse")
        # the notebook checks import nbformat and jsonschema (seconds on a busy machine): on
        # a store's thread now, not in the first upload's reply
        next(iter(self.served.values())).pool.submit(importlib.import_module,
                                                      "autograder.notebooks")
        self.hub_auth = HubAuth(cache_max_age=self.cache_max_age, allow_token_in_url=False)
        self.in_flight = 0

    async def call(self, served: ServedCourse, func):
        """Run ``func(exchange)`` on the course's store thread (its gradebook's session)."""

        def work():
            served.exchange.refresh()
            return func(served.exchange)

        return await asyncio.get_running_loop().run_in_executor(served.pool, work)

    async def parse(self, func):
        """Run ``func()`` (JSON parsing, base64 decoding) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._parse_pool, func)

    async def role(self, served: ServedCourse, model: dict) -> Role | None:
        """The role in ``served`` of the token's owner (``model``, the hub's answer). A user's
        comes from the course file as it is now (parsed again whenever ``course_file_stamp``
        changed: any edit, even one in the same clock tick as the last), on a thread of its own:
        a roster edit counts from the next request on, and no upload's work delays it. A service
        is a grader of the courses ``staff_services`` names for it, and nothing else."""
        if model.get("kind") == "service":
            return service_role(self.staff_services, model["name"], served.course_id)
        return await asyncio.get_running_loop().run_in_executor(
            self._roster_pool, served.roster_role, model["name"])

    async def authenticate(self, handler: web.RequestHandler, *, cached: bool = False) -> dict:
        """The hub's model of the request's token. ``cached``: a read may reuse the hub's answer
        for ``cache_max_age`` seconds; anything else asks the hub now."""
        return await hub_model(self.hub_auth, handler, cached=cached)

    def make_app(self) -> web.Application:
        api = url_path_join(self.base_url, wire.API)
        course = r"courses/(?P<course_id>[^/]+)"
        aid = r"(?P<assignment_id>[A-Za-z0-9][A-Za-z0-9_-]*)"
        sid = r"(?P<student_id>[^/]+)"
        routes = [
            (url_path_join(self.base_url, "health"), HealthHandler),
            (url_path_join(api, "courses"), CoursesHandler),
            (url_path_join(api, course, "assignments"), AssignmentsHandler),
            (url_path_join(api, course, "assignments", aid), AssignmentHandler),
            (url_path_join(api, course, "submissions"), SubmissionsHandler),
            (url_path_join(api, course, "submissions", aid), SubmitHandler),
            (url_path_join(api, course, "submissions", aid, sid, r"(?P<receipt_id>\d+)"),
             SubmissionFilesHandler),
            (url_path_join(api, course, "collect", aid), CollectHandler),
            (url_path_join(api, course, "feedback"), FeedbackListHandler),
            (url_path_join(api, course, "feedback", aid, sid), FeedbackHandler),
            (url_path_join(api, course, "summaries", r"(?P<session>\d+)"), SummaryHandler),
        ]
        kwargs = {"service": self}
        return web.Application([(path, handler, kwargs if handler is not HealthHandler else {})
                                for path, handler in routes],
                               default_handler_class=NoRouteHandler)

    async def run_forever(self, ready=None) -> None:
        # each route lowers the body cap once the request is authorized (ApiHandler.prepare)
        server = httpserver.HTTPServer(self.make_app(), max_body_size=self.max_body_bytes,
                                       idle_connection_timeout=60)
        server.listen(self.port, self.ip)
        log.info("exchange for %s on http://%s:%d%s", ", ".join(self.served), self.ip,
                 self.port, self.base_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready()
        await stop.wait()
        server.stop()  # no new connections; the requests in flight may finish (10 s at most)
        for _ in range(100):
            if self.in_flight <= 0:
                break
            await asyncio.sleep(0.1)
        await server.close_all_connections()
        await loop.run_in_executor(None, self.close)

    def close(self) -> None:
        """Close every course's store (its gradebook) and stop the threads."""
        for served in self.served.values():
            served.close()
        for pool in (getattr(self, "_roster_pool", None), getattr(self, "_parse_pool", None)):
            if pool is not None:
                pool.shutdown(wait=True)


def main(courses: list[str | Path], *, ip: str = "127.0.0.1", port: int | None = None,
         base_url: str | None = None, max_submission_bytes: int | None = None,
         max_stored_bytes: int | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[exchange %(asctime)s] %(message)s")
    kwargs = {"courses": [str(course) for course in courses], "ip": ip}
    if port:
        kwargs["port"] = port
    if base_url:
        kwargs["base_url"] = base_url
    if max_submission_bytes:
        kwargs["max_submission_bytes"] = max_submission_bytes
    if max_stored_bytes:
        kwargs["max_stored_bytes"] = max_stored_bytes
    service = ExchangeService(**kwargs)
    asyncio.run(service.run_forever(ready=lambda: print(
        f"exchange ready on http://{ip}:{service.port}{service.base_url}", flush=True)))
    return 0

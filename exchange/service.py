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
before a byte of the body is kept, and caps its body (uploads at ``max_body_bytes``, others at
``SMALL_BODY``; a refused body within ``max_body_bytes`` is read and dropped before the answer, so
the connection is not reset under the hub's proxy); a state-changing request asks the hub about its token every time (a revoked or
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
quota, 503 another exchange process held the student's hand-ins for longer than
``course.inbox.HOLD_TIMEOUT_S`` (nothing stored; the platform's client sends it again). An id
in a path that no row can have (not a number, negative, past the gradebook's INTEGER) is a 404
like any unknown one; it never reaches the database.

Several processes, one course: any number of exchange processes may serve the same courses on
one PostgreSQL gradebook and one shared course folder (a receipt is added under a per-student
lock in the gradebook, every folder is written under a unique hidden name, renamed into place
and flushed before its receipt is committed; ``course.inbox.stage_hand_in``). On one host they share one port
(``reuse_port``, ``$COURSE_EXCHANGE_REUSE_PORT=1``: the kernel spreads connections among them;
``course exchange serve --processes N`` starts N such copies and restarts one that dies); in
containers each runs one process behind the Service's address (``$COURSE_EXCHANGE_REPLICATED=1``
says so: like a shared port, it refuses a SQLite gradebook at start). A retried hand-in
(``Idempotency-Key``) is stored once whichever process it reaches. A course whose gradebook
records another course (nbgrader's course table) is refused at start.

Who is asking is ``exchange/auth.py``, the served courses (stores and rosters)
``exchange/courses.py``, each route's handler ``exchange/handlers.py``; this module holds the
application (the routes above) and ``main()``. What is done with the files and the gradebook is
``course.store.CourseExchange``, without HTTP.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from jupyterhub.services.auth import HubAuth
from jupyterhub.utils import url_path_join
from sqlalchemy import inspect, text
from tornado import httpserver, netutil, web
from tornado.log import access_log
from traitlets import Bool, Dict, Float, Integer, List, Unicode, default
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
from .threads import named_pool
from .token_cache import WRITE_CACHE_SECONDS, TokenCache

__all__ = ["REPLICATED_ENV", "REUSE_PORT_ENV", "ExchangeService", "ServedCourse", "main",
           "parse_staff_services", "supervise"]

log = logging.getLogger("exchange")

REUSE_PORT_ENV = "COURSE_EXCHANGE_REUSE_PORT"  # "1": share the port with other exchange processes
# "1": other exchange processes serve these courses too, on their own ports (replicas of a
# compose service or a Kubernetes Deployment): as with a shared port, SQLite is refused
REPLICATED_ENV = "COURSE_EXCHANGE_REPLICATED"
# a body this small is parsed on the event loop (about 0.01 ms for a notebook's upload, against
# 0.05 ms of CPU to hand it to a thread and back); a larger one, up to 250 MB, off it
INLINE_PARSE_BYTES = 64 * 1024


def log_request(handler: web.RequestHandler) -> None:
    """Tornado's access log line, with the token's owner at its end: one line per request says
    who handed in what (``201 POST .../submissions/01-numpy (127.0.0.1) 8.12ms ada``)."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    user = getattr(handler, "user", None)
    access_log.log(level, "%d %s %.2fms%s", status, handler._request_summary(),
                   1000 * handler.request.request_time(), f" {user}" if user else "")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _other_courses(exchange) -> list[str]:
    """The course ids other than ``exchange``'s that its gradebook records (nbgrader's course
    table, filled when nbgrader first opens it for a course): a course file pointing at another
    course's gradebook. A gradebook nbgrader never opened records none."""
    session = exchange.gb.session
    try:
        if not inspect(session.connection()).has_table("course"):
            return []
        ids = session.execute(text("SELECT id FROM course")).scalars().all()
    finally:
        session.rollback()  # ends the read
    # nbgrader's placeholder row (a Gradebook opened without a course id) names no course
    return sorted(i for i in ids if i not in (exchange.course_id, "default_course"))


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
    write_token_cache = Float(0.0, help="seconds (at most 1) a state-changing request may reuse "
                              "the hub's answer about its token (exchange/token_cache.py); 0: "
                              "each asks the hub").tag(config=True)
    reuse_port = Bool(help="listen with SO_REUSEPORT, so that several exchange processes on this "
                      "host share the port (default: $COURSE_EXCHANGE_REUSE_PORT=1)"
                      ).tag(config=True)

    @default("reuse_port")
    def _reuse_port(self):
        return _env_flag(REUSE_PORT_ENV)

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
            others = served.pool.submit(_other_courses, served.exchange).result()
            if others:  # its receipts would land in, and its rosters mix with, another course's
                self.close()
                raise ValueError(f"the gradebook of {served.course_id} ({url.split('@')[-1]}) is "
                                 f"the gradebook of {', '.join(map(repr, others))}: give each "
                                 "course its own (gradebook.url in its course file)")
        local = sorted(c for c, s in self.served.items() if s.exchange.ws.db_url.startswith("sqlite"))
        several = self.reuse_port or _env_flag(REPLICATED_ENV)
        if several and local:  # a per-student lock in the gradebook keeps receipts once
            self.close()
            why = "a shared port" if self.reuse_port else f"${REPLICATED_ENV}=1"
            raise ValueError(f"several exchange processes ({why}) need a PostgreSQL gradebook; "
                             f"{', '.join(local)} keeps its gradebook in SQLite")
        if len(self.served) > 1 and EVERY_COURSE in self.staff_services.values():
            self.close()
            raise ValueError("this exchange serves several courses: name each staff service's "
                             "course ('formgrader-a=a'), or one formgrader would grade them all")
        # role lookups and upload parsing never queue behind the stores' file and database work
        self._roster_pool = named_pool(1, "exch-roster")
        self._parse_pool = named_pool(2, "exch-parse")
        # the notebook checks import nbformat and jsonschema (seconds on a busy machine): on
        # a store's thread now, not in the first upload's reply
        next(iter(self.served.values())).pool.submit(importlib.import_module,
                                                      "autograder.notebooks")
        self.hub_auth = HubAuth(cache_max_age=self.cache_max_age, allow_token_in_url=False)
        # course id -> GroupCommit (exchange/group_commit.py), made by the course's first hand-in
        self.hand_ins: dict = {}
        self.write_tokens = (TokenCache(min(self.write_token_cache, WRITE_CACHE_SECONDS))
                             if self.write_token_cache > 0 else None)
        self.in_flight = 0

    async def call(self, served: ServedCourse, func):
        """Run ``func(exchange)`` on the course's store thread (its gradebook's session)."""

        def work():
            served.exchange.refresh()
            return func(served.exchange)

        return await asyncio.get_running_loop().run_in_executor(served.pool, work)

    async def parse(self, func, size: int):
        """Run ``func()`` (JSON parsing, base64 decoding of a ``size``-byte body) off the event
        loop, or on it for a body of at most ``INLINE_PARSE_BYTES``: a notebook's upload is
        parsed in less time than handing it to a thread and back takes."""
        if size <= INLINE_PARSE_BYTES:
            return func()
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
        return await hub_model(self.hub_auth, handler, cached=cached, writes=self.write_tokens)

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
                               default_handler_class=NoRouteHandler, log_function=log_request)

    async def run_forever(self, ready=None) -> None:
        # each route lowers the body cap once the request is authorized (ApiHandler.prepare)
        server = httpserver.HTTPServer(self.make_app(), max_body_size=self.max_body_bytes,
                                       idle_connection_timeout=60)
        server.add_sockets(netutil.bind_sockets(self.port, self.ip, reuse_port=self.reuse_port))
        log.info("exchange for %s on http://%s:%d%s%s (pid %d)", ", ".join(self.served), self.ip,
                 self.port, self.base_url, ", port shared" if self.reuse_port else "", os.getpid())
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
         max_stored_bytes: int | None = None, reuse_port: bool | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[exchange %(asctime)s] %(message)s")
    kwargs = {"courses": [str(course) for course in courses], "ip": ip}
    if reuse_port is not None:
        kwargs["reuse_port"] = reuse_port
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


FAILED_START_S = 10.0  # a copy that dies sooner after its start may be a broken set-up:
FAILED_STARTS = 3  # so many such deaths in a row stop them all (restarting won't fix it)
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # a supervisor SIGKILLed (by the hub) takes its copies along
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(command: list[str], processes: int, *, restart_delay: float = 1.0) -> int:
    """Run ``processes`` copies of ``command`` (``course exchange serve`` without
    ``--processes``), all on one port (``REUSE_PORT_ENV``); restart a copy that dies; SIGTERM
    or SIGINT stops them all (each finishes its requests). ``FAILED_STARTS`` deaths in a row of
    one copy, each within ``FAILED_START_S`` of its start, stop everything: the set-up is
    wrong. Returns the exit status."""
    env = {**os.environ, REUSE_PORT_ENV: "1"}
    stopping = False

    def start() -> tuple[subprocess.Popen, float]:
        # the supervisor runs no threads, so preexec_fn is safe here
        child = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        return child, time.monotonic()

    def stop(signum=None, frame=None) -> None:
        nonlocal stopping
        stopping = True
        for child, _started in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    children = [start() for _ in range(processes)]
    quick_deaths = [0] * processes
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while not stopping or any(child.poll() is None for child, _started in children):
        time.sleep(0.2)
        for number, (child, started) in enumerate(children):
            code = child.poll()
            if code is None or stopping:
                continue
            quick = time.monotonic() - started < FAILED_START_S
            quick_deaths[number] = quick_deaths[number] + 1 if quick else 0
            if quick_deaths[number] >= FAILED_STARTS:
                log.error("exchange process %d exited at its start (%d), %d times in a row: "
                          "stopping", child.pid, code, FAILED_STARTS)
                status = code or 1
                stop()
                break
            log.warning("exchange process %d died (%d); starting another", child.pid, code)
            time.sleep(restart_delay)
            if stopping:  # SIGTERM during the delay: a copy started now would never be stopped
                break
            children[number] = start()
    return status

"""The exchange as a JupyterHub service: a small tornado app, one for every course on the hub.

Every request carries the user's JupyterHub token (``Authorization: token ...``; the single-user
server's ``$JUPYTERHUB_API_TOKEN``). The service asks the hub whose token it is (``HubAuth``,
which caches the answer for ``cache_max_age`` seconds), checks that the token may access this
service (``access:services!service=<name>``), and authorizes by the user's role in the roster
of the course the route names (a user may be a student of one course and an instructor of
another; someone outside a course's roster gets 403 for all of it): students see released assignments and their own submissions and feedback;
instructors and graders release, collect and return feedback. Nothing the client says about time
or identity is used: the receipt time is this process's clock when the upload has arrived.

Shared fairly (DESIGN.md, decision 10): every route authenticates and authorizes from the headers
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
403 not allowed for this role or user, 404 not found or not released (or no such course here), 405 no such method on
the route, 409 already released, 413 too large or over the per-student quota. An id in a path that
no row can have (not a number, negative, past the gradebook's INTEGER) is a 404 like any unknown
one; it never reaches the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.services.auth import HubAuth, check_scopes
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Dict, Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from course.calendar import utcnow
from course.errors import UnknownId, UserError
from course.fresh_course import course_file_stamp
from course.inbox import (
    MAX_FILES,
    MAX_STORED_BYTES,
    MAX_SUBMISSION_BYTES,
    QuotaExceeded,
    check_names,
)
from course.roles import Role, role_in
from course.store import Conflict, CourseExchange, Forbidden, NotFound, TooLarge, row_id
from course.workspace import open_workspace

from . import wire

__all__ = ["ExchangeService", "ServedCourse", "main", "parse_staff_services"]

log = logging.getLogger("exchange")

TIME_FIELDS = {"timestamp", "received_at", "received_utc", "time", "submitted_at"}
SMALL_BODY = 64 * 1024  # the body cap of routes that take no upload (a stray "{}" is fine)
READS = ("GET", "HEAD", "OPTIONS")
EVERY_COURSE = "*"  # a staff service of a one-course exchange (a bare name in the variable)
STAFF_SERVICES_ENV = "COURSE_EXCHANGE_STAFF_SERVICES"


def parse_staff_services(text: str) -> dict[str, str]:
    """``formgrader-a=a,formgrader-b=b``: each service grades the course it names; a bare name
    (``formgrader-a``) grades every course this exchange serves (meant for one course)."""
    services = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, course_id = item.partition("=")
        services[name.strip()] = course_id.strip() or EVERY_COURSE
    return services


def _implements(handler: web.RequestHandler) -> bool:
    method = handler.request.method.lower()
    return getattr(type(handler), method, None) is not getattr(web.RequestHandler, method, None)


@web.stream_request_body
class HealthHandler(web.RequestHandler):
    """No token; no body: anything else is refused before the body is read."""

    def prepare(self):
        if not _implements(self):
            raise web.HTTPError(405)
        self.request.connection.set_max_body_size(0)

    def data_received(self, chunk: bytes):
        return

    def get(self):
        self.finish({"status": "ok"})


@web.stream_request_body
class NoRouteHandler(web.RequestHandler):
    """Any path no route matches (an id that is not a number, a negative one): 404 in the
    exchange's JSON, before any body is read."""

    def prepare(self):
        self.request.connection.set_max_body_size(0)
        raise web.HTTPError(404, "no such route on this exchange")

    def data_received(self, chunk: bytes):
        return

    def check_xsrf_cookie(self):
        return

    def write_error(self, status_code, **kwargs):
        self.finish({"status": status_code, "error": "no such route on this exchange"
                     if status_code == 404 else self._reason})


@web.stream_request_body
class ApiHandler(web.RequestHandler):
    """Authenticates (hub token) and resolves the course role from the headers alone, caps the
    body per route, maps store errors to HTTP codes. Its body is discarded: uploads keep theirs
    (``UploadHandler``)."""

    def initialize(self, service: ExchangeService):
        self.service = service
        self.user: str | None = None
        self.model: dict = {}
        self.served: ServedCourse | None = None  # the course the route names
        self.role = None

    @property
    def course_id(self) -> str:
        return self.served.course_id

    def check_xsrf_cookie(self):  # token-authenticated API: no cookies are ever accepted
        return

    def body_limit(self) -> int:
        return SMALL_BODY

    def data_received(self, chunk: bytes):
        return

    async def prepare(self):
        self.service.in_flight += 1
        self._counted = True
        if not _implements(self):  # before the body: a 405 need not wait for 250 MB
            raise web.HTTPError(405)
        self.model = await self.service.authenticate(self, cached=self.request.method in READS)
        self.user = self.model["name"]
        course_id = self.path_kwargs.get("course_id")
        if course_id is not None:
            self.served = self.service.served.get(course_id)
            if self.served is None:  # names no other course: an outsider learns nothing
                raise web.HTTPError(404, f"no course {course_id!r} on this exchange")
            self.role = await self.service.role(self.served, self.model)
            if self.role is None:
                raise web.HTTPError(403, f"{self.user} is not in the roster of {course_id}")
        limit = self.body_limit()
        try:
            length = int(self.request.headers.get("Content-Length") or 0)
        except ValueError:
            raise web.HTTPError(400, "the Content-Length header is not a number") from None
        if length > limit:
            raise web.HTTPError(413, f"a body of {length} bytes; this route takes at most {limit}")
        self.request.connection.set_max_body_size(limit)

    def on_finish(self):
        if getattr(self, "_counted", False):
            self._counted = False
            self.service.in_flight -= 1

    on_connection_close = on_finish

    def write_error(self, status_code, **kwargs):
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.finish({"status": status_code, "error": message})

    def require_staff(self, action: str) -> None:
        if not self.role.staff:
            raise web.HTTPError(403, f"only instructors and graders of {self.course_id} "
                                f"may {action}; {self.user} is a {self.role.name}")

    def require_student(self, action: str) -> None:
        if self.role.staff:
            raise web.HTTPError(403, f"only students {action}; {self.user} is a {self.role.name}")

    def student_filter(self) -> str | None:
        """``?student_id=``: students may only name themselves; staff anyone (or nobody)."""
        wanted = self.get_query_argument("student_id", None) or None
        if self.role.staff:
            return wanted
        if wanted not in (None, self.user):
            raise web.HTTPError(403, f"{self.user} may not see {wanted}'s submissions or feedback")
        return self.user

    async def run(self, func):
        """``func(exchange)`` on the course's store thread. A user's role is checked there again,
        against the course file the action itself sees: a roster edit that lands while the
        request waits for the thread still counts."""
        user, role, served = self.user, self.role, self.served
        is_user = self.model.get("kind", "user") != "service"

        def checked(ex):
            if is_user and role_in(ex.ws.course, user) != role:
                raise Forbidden(f"{user} is no longer a {role.name} in the roster of "
                                f"{served.course_id}")
            return func(ex)

        try:
            return await self.service.call(served, checked)
        except Forbidden as exc:
            raise web.HTTPError(403, str(exc)) from None
        except Conflict as exc:
            raise web.HTTPError(409, str(exc)) from None
        except (TooLarge, QuotaExceeded) as exc:
            raise web.HTTPError(413, str(exc)) from None
        except (NotFound, UnknownId) as exc:  # before UserError: an unknown id is one too
            raise web.HTTPError(404, str(exc) or "not found") from None
        except (UserError, wire.WireError) as exc:
            raise web.HTTPError(400, str(exc)) from None


class UploadHandler(ApiHandler):
    """A handler whose body is a JSON upload (PUT, POST): the size limit holds before anything
    is parsed, and parsing and decoding run off the event loop. ``arrived()`` is the receipt
    time of a submission: the moment the body's last byte came in, less the time the exchange
    held the body back while it checked the token and the role (a slow hub makes no one late;
    a slow upload is still stamped when it ends)."""

    def body_limit(self) -> int:
        return SMALL_BODY if self.request.method in READS else self.service.max_body_bytes

    async def prepare(self):
        self._body, self._last_byte = bytearray(), None
        started = time.monotonic()
        await super().prepare()  # no byte of an unauthenticated upload is kept
        self._held = dt.timedelta(seconds=time.monotonic() - started)

    def data_received(self, chunk: bytes):
        self._body += chunk
        self._last_byte = utcnow()

    def arrived(self) -> dt.datetime:
        return (self._last_byte or utcnow()) - self._held

    async def upload(self, allowed: set[str], required: set[str] = frozenset({"files"})) -> dict:
        body, self._body = bytes(self._body), bytearray()
        self._document = await self.service.parse(lambda: _json_object(body))
        forged = TIME_FIELDS & (set(self.request.query_arguments) | set(self._document))
        if forged:
            raise web.HTTPError(400, f"refusing {sorted(forged)}: the exchange stamps the receipt "
                                "time with its own clock; clients cannot set it")
        if self.request.query_arguments:
            raise web.HTTPError(400, f"unexpected query {sorted(self.request.query_arguments)}")
        data = self._document
        unknown = set(data) - allowed
        if "student_id" in unknown:
            raise web.HTTPError(400, "the user is the token's owner; 'student_id' cannot be sent")
        if unknown or required - set(data):
            raise web.HTTPError(400, f"expected fields {sorted(allowed)}, got {sorted(data)}")
        return data

    async def files(self, data: dict) -> dict[str, bytes]:
        """The upload's files, their names checked (count, depth, length, reserved) before any
        content is decoded."""
        listing = data["files"]

        def decode():
            if isinstance(listing, dict):
                check_names(listing, max_files=self.service.max_files)
            return wire.decode_files(listing)

        try:
            return await self.service.parse(decode)
        except (wire.WireError, UserError) as exc:
            raise web.HTTPError(400, str(exc)) from None


def _json_object(body: bytes) -> dict:
    try:
        document = json.loads(body or b"{}")
    except RecursionError:
        raise web.HTTPError(400, "the body is JSON nested too deeply") from None
    except ValueError:
        raise web.HTTPError(400, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise web.HTTPError(400, "the body must be a JSON object")
    return document


class CoursesHandler(ApiHandler):
    async def get(self):
        courses = []
        for served in self.service.served.values():
            role = await self.service.role(served, self.model)
            if role is not None:
                courses.append({"course_id": served.course_id, "title": served.roster[1].title,
                                "role": role.name})
        if not courses:
            raise web.HTTPError(403, f"{self.user} is in the roster of no course here")
        self.finish({"courses": courses, "user": self.user})


class AssignmentsHandler(ApiHandler):
    async def get(self, course_id):
        role = self.role
        self.finish({"assignments": await self.run(lambda ex: ex.released(role))})


class AssignmentHandler(UploadHandler):
    async def get(self, course_id, assignment_id):
        role = self.role
        files = await self.run(lambda ex: ex.released_files(assignment_id, role))
        self.finish({"assignment_id": assignment_id, "files": wire.encode_files(files)})

    async def put(self, course_id, assignment_id):
        self.require_staff("release assignments")
        data = await self.upload({"files", "force"})
        files, force, user = await self.files(data), bool(data.get("force")), self.user
        result = await self.run(lambda ex: ex.release(assignment_id, files, by=user, force=force))
        log.info("%s released %s", user, assignment_id)
        self.finish(result)

    async def delete(self, course_id, assignment_id):
        self.require_staff("withdraw releases")
        await self.run(lambda ex: ex.unrelease(assignment_id))
        log.info("%s withdrew %s", self.user, assignment_id)
        self.finish({"assignment_id": assignment_id, "released": False})


class SubmitHandler(UploadHandler):
    async def post(self, course_id, assignment_id):
        received_at = self.arrived()  # first: nothing below can delay it
        self.require_student("submit")
        files, student = await self.files(await self.upload({"files"})), self.user

        def submit(ex):
            return ex.describe(ex.submit(student, assignment_id, files, received_at),
                               feedback=False)

        receipt = await self.run(submit)
        log.info("received %s from %s at %s", assignment_id, student, receipt["timestamp"])
        self.set_status(201)
        self.finish(receipt)


class SubmissionsHandler(ApiHandler):
    async def get(self, course_id):
        student = self.student_filter()
        assignment = self.get_query_argument("assignment_id", None) or None

        def listing(ex):
            return [ex.describe(r) for r in ex.receipts(student_id=student,
                                                         assignment_id=assignment)]

        self.finish({"submissions": await self.run(listing)})


class SubmissionFilesHandler(ApiHandler):
    async def get(self, course_id, assignment_id, student_id, receipt_id):
        if not self.role.staff and student_id != self.user:
            raise web.HTTPError(403, f"{self.user} may not see {student_id}'s submissions")

        number = row_id(receipt_id)  # past what the gradebook holds: no such submission
        if number is None:
            raise web.HTTPError(404, f"no submission {receipt_id[:24]} of {assignment_id} by "
                                f"{student_id}")

        def files(ex):
            receipt = ex.receipt(number)
            if (receipt.student_id, receipt.assignment_id) != (student_id, assignment_id):
                raise NotFound(f"no submission {receipt_id} of {assignment_id} by {student_id}")
            return ex.describe(receipt, feedback=False), ex.receipt_files(receipt)

        info, content = await self.run(files)
        self.finish({**info, "files": wire.encode_files(content)})


class CollectHandler(ApiHandler):
    async def post(self, course_id, assignment_id):
        self.require_staff("collect submissions")
        collected, failed = await self.run(lambda ex: ex.collect(assignment_id))
        log.info("%s collected %d submissions of %s", self.user, len(collected), assignment_id)
        for item in failed:
            log.warning("could not collect %s of %s: %s", assignment_id, item["student_id"],
                        item["error"])
        for item in collected:
            item["files"] = wire.encode_files(item["files"])
        self.finish({"assignment_id": assignment_id, "collected": collected, "failed": failed})


class FeedbackListHandler(ApiHandler):
    async def get(self, course_id):
        student = self.student_filter()
        assignment = self.get_query_argument("assignment_id", None) or None
        with_files = self.get_query_argument("files", "1") != "0"

        def listing(ex):
            out = []
            for receipt in ex.receipts(student_id=student, assignment_id=assignment):
                files = ex.feedback_files(receipt)
                if files:
                    out.append({**ex.describe(receipt, feedback=False),
                                "feedback": {n: wire.md5(c) for n, c in files.items()},
                                **({"files": wire.encode_files(files)} if with_files else {})})
            return out

        self.finish({"feedback": await self.run(listing)})


class FeedbackHandler(UploadHandler):
    async def put(self, course_id, assignment_id, student_id):
        self.require_staff("return feedback")
        data = await self.upload({"files", "receipt_id", "submission_timestamp"})
        files = await self.files(data)
        receipt_id, stamp = data.get("receipt_id"), data.get("submission_timestamp")
        if receipt_id is None and stamp is None:
            raise web.HTTPError(400, "name the submission: 'receipt_id' or 'submission_timestamp'")
        if isinstance(receipt_id, str):  # digits as text (``read_receipt_id`` takes them too)
            text, receipt_id = receipt_id, row_id(receipt_id)
            if receipt_id is None:
                raise web.HTTPError(404, f"no submission {text[:24]!r} of {assignment_id} by "
                                    f"{student_id}")
        elif receipt_id is not None and (not isinstance(receipt_id, int)
                                         or isinstance(receipt_id, bool)):
            raise web.HTTPError(400, f"'receipt_id' is a whole number, not {receipt_id!r:.40}")

        def release(ex):
            receipt = ex.find_receipt(student_id, assignment_id, receipt_id=receipt_id,
                                      timestamp=stamp)
            return ex.release_feedback(receipt, files)

        result = await self.run(release)
        log.info("%s returned feedback on %s to %s", self.user, assignment_id, student_id)
        self.finish(result)


class SummaryHandler(UploadHandler):
    async def post(self, course_id, session):
        received_at = self.arrived()
        self.require_student("hand in session summaries here")
        number = row_id(session)  # a course has a few dozen sessions, never 2**31
        if number is None:
            raise web.HTTPError(404, f"unknown session {session[:24]}")
        files, student = await self.files(await self.upload({"files"})), self.user
        result = await self.run(lambda ex: ex.submit_summary(student, number, files,
                                                             received_at))
        self.set_status(201)
        self.finish(result)


class ServedCourse:
    """One course on this exchange: its store, on a thread of its own (one course's collection
    never queues behind another's uploads), and its roster with the ``course_file_stamp`` it
    was read at (read again before each role check if the file changed)."""

    def __init__(self, course_file: Path, **limits):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="exchange-store")
        self.exchange = self.pool.submit(CourseExchange, course_file, **limits).result()
        self.course_id = self.exchange.course_id
        self.roster = (self.exchange._stamp, self.exchange.ws.course)

    def roster_file(self) -> Path:
        path = self.exchange.course_file
        return path if path.is_file() else path / "course.yml"

    def close(self) -> None:
        self.pool.submit(self.exchange.close).result()
        self.pool.shutdown(wait=True)


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
            granted = self.staff_services.get(model["name"])
            return Role("grader") if granted in (served.course_id, EVERY_COURSE) else None

        def lookup():
            stamp = course_file_stamp(served.roster_file())
            if stamp != served.roster[0]:  # the stamp first: what is parsed is never older
                served.roster = (stamp, open_workspace(served.roster_file()).course)
            return role_in(served.roster[1], model["name"])

        return await asyncio.get_running_loop().run_in_executor(self._roster_pool, lookup)

    async def authenticate(self, handler: web.RequestHandler, *, cached: bool = False) -> dict:
        """The hub's model of the request's token. ``cached``: a read may reuse the hub's answer
        for ``cache_max_age`` seconds; anything else asks the hub now."""
        token = self.hub_auth.get_token(handler, in_cookie=False)
        if not token:
            raise web.HTTPError(401, "no token: send 'Authorization: token <your JupyterHub "
                                "API token>' ($JUPYTERHUB_API_TOKEN in a user's server)")
        model = await self.hub_auth.user_for_token(token, use_cache=cached, sync=False)
        if not model:
            raise web.HTTPError(401, "the hub does not know this token (expired or revoked?)")
        if model.get("kind", "user") not in ("user", "service"):
            raise web.HTTPError(403, f"{model.get('kind')} tokens cannot use the exchange")
        scopes = self.hub_auth.access_scopes
        if scopes and not check_scopes(scopes, set(model.get("scopes", []))):
            raise web.HTTPError(403, f"this token of {model['name']} lacks "
                                f"{' or '.join(sorted(scopes))}")
        return model

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

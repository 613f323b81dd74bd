"""The exchange as a JupyterHub service: a small tornado app.

Every request carries the user's JupyterHub token (``Authorization: token ...``; the single-user
server's ``$JUPYTERHUB_API_TOKEN``). The service asks the hub whose token it is (``HubAuth``,
which caches the answer for ``cache_max_age`` seconds), checks that the token may access this
service (``access:services!service=<name>``), and authorizes by the user's role in the course
file's roster: students see released assignments and their own submissions and feedback;
instructors and graders release, collect and return feedback. Nothing the client says about time
or identity is used: the receipt time is this process's clock when the upload has arrived.

Routes, under the service prefix (``$JUPYTERHUB_SERVICE_PREFIX``, e.g. /services/exchange/):

    GET    health                                          no token needed
    GET    api/courses                                     the user's courses and role
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
403 not allowed for this role or user, 404 not found or not released, 409 already released,
413 too large.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.services.auth import HubAuth, check_scopes
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from course.calendar import utcnow
from course.errors import UnknownId, UserError
from course.inbox import MAX_SUBMISSION_BYTES

from . import wire
from .store import Conflict, CourseExchange, Forbidden, NotFound, Role, TooLarge

__all__ = ["ExchangeService", "main"]

log = logging.getLogger("exchange")

TIME_FIELDS = {"timestamp", "received_at", "received_utc", "time", "submitted_at"}


class ApiHandler(web.RequestHandler):
    """Authenticates (hub token), resolves the course role, maps store errors to HTTP codes."""

    def initialize(self, service: ExchangeService):
        self.service = service
        self.user: str | None = None
        self.role = None

    def check_xsrf_cookie(self):  # token-authenticated API: no cookies are ever accepted
        return

    async def prepare(self):
        self.service.in_flight += 1
        self._counted = True
        model = await self.service.authenticate(self)
        self.user = model["name"]
        course_id = self.path_kwargs.get("course_id")
        if course_id is not None and course_id != self.service.course_id:
            raise web.HTTPError(404, f"no course {course_id!r} here "
                                f"(this exchange serves {self.service.course_id})")
        if model.get("kind") == "service":  # the formgrader: staff, by configuration
            self.role = Role("grader") if self.user in self.service.staff_services else None
        else:
            self.role = await self.run(lambda ex: ex.role(self.user))
        if self.role is None:
            raise web.HTTPError(403, f"{self.user} is not in the roster of "
                                f"{self.service.course_id}")

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
            raise web.HTTPError(403, f"only instructors and graders of {self.service.course_id} "
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
        try:
            return await self.service.call(func)
        except Forbidden as exc:
            raise web.HTTPError(403, str(exc)) from None
        except Conflict as exc:
            raise web.HTTPError(409, str(exc)) from None
        except TooLarge as exc:
            raise web.HTTPError(413, str(exc)) from None
        except (NotFound, UnknownId) as exc:  # before UserError: an unknown id is one too
            raise web.HTTPError(404, str(exc) or "not found") from None
        except (UserError, wire.WireError) as exc:
            raise web.HTTPError(400, str(exc)) from None


@web.stream_request_body
class UploadHandler(ApiHandler):
    """A handler whose body is a JSON upload; the size limit holds before anything is parsed."""

    async def prepare(self):
        self._body, self._too_big = bytearray(), False
        await super().prepare()  # no byte of an unauthenticated upload is kept
        limit = self.service.max_body_bytes
        length = int(self.request.headers.get("Content-Length") or 0)
        self._too_big = length > limit
        # bodies a little over the limit are read and dropped so the client gets its 413;
        # far over it, tornado closes the connection
        self.request.connection.set_max_body_size(4 * limit)

    def data_received(self, chunk: bytes):
        if self._too_big:
            return
        self._body += chunk
        if len(self._body) > self.service.max_body_bytes:
            self._too_big, self._body = True, bytearray()

    def upload(self, allowed: set[str], required: set[str] = frozenset({"files"})) -> dict:
        if self._too_big:
            raise web.HTTPError(413, f"upload larger than {self.service.max_body_bytes} bytes")
        forged = TIME_FIELDS & (set(self.request.query_arguments) | self._keys())
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

    def _keys(self) -> set[str]:
        try:
            self._document = json.loads(self._body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(self._document, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return set(self._document)

    def files(self, data: dict) -> dict[str, bytes]:
        try:
            return wire.decode_files(data["files"])
        except wire.WireError as exc:
            raise web.HTTPError(400, str(exc)) from None


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"status": "ok"})


class CoursesHandler(ApiHandler):
    async def get(self):
        ex = self.service.exchange
        self.finish({"courses": [{"course_id": ex.course_id, "title": ex.ws.course.title,
                                  "role": self.role.name}], "user": self.user})


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
        data = self.upload({"files", "force"})
        files, force, user = self.files(data), bool(data.get("force")), self.user
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
        received_at = utcnow()  # the whole upload is here: this is the receipt time
        self.require_student("submit")
        files, student = self.files(self.upload({"files"})), self.user

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

        def files(ex):
            receipt = ex.receipt(int(receipt_id))
            if (receipt.student_id, receipt.assignment_id) != (student_id, assignment_id):
                raise NotFound(f"no submission {receipt_id} of {assignment_id} by {student_id}")
            return ex.describe(receipt, feedback=False), ex.receipt_files(receipt)

        info, content = await self.run(files)
        self.finish({**info, "files": wire.encode_files(content)})


class CollectHandler(ApiHandler):
    async def post(self, course_id, assignment_id):
        self.require_staff("collect submissions")
        collected = await self.run(lambda ex: ex.collect(assignment_id))
        log.info("%s collected %d submissions of %s", self.user, len(collected), assignment_id)
        for item in collected:
            item["files"] = wire.encode_files(item["files"])
        self.finish({"assignment_id": assignment_id, "collected": collected})


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
        data = self.upload({"files", "receipt_id", "submission_timestamp"})
        files = self.files(data)
        receipt_id, stamp = data.get("receipt_id"), data.get("submission_timestamp")
        if receipt_id is None and stamp is None:
            raise web.HTTPError(400, "name the submission: 'receipt_id' or 'submission_timestamp'")

        def release(ex):
            receipt = ex.find_receipt(student_id, assignment_id, receipt_id=receipt_id,
                                      timestamp=stamp)
            return ex.release_feedback(receipt, files)

        result = await self.run(release)
        log.info("%s returned feedback on %s to %s", self.user, assignment_id, student_id)
        self.finish(result)


class SummaryHandler(UploadHandler):
    async def post(self, course_id, session):
        received_at = utcnow()
        self.require_student("hand in session summaries here")
        files, student = self.files(self.upload({"files"})), self.user
        result = await self.run(lambda ex: ex.submit_summary(student, int(session), files,
                                                             received_at))
        self.set_status(201)
        self.finish(result)


class ExchangeService(LoggingConfigurable):
    """Serves one course's exchange. Configured by traits; the hub's environment fills the rest
    (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_SERVICE_PREFIX``, ...)."""

    course = Unicode(help="the course file (or its folder) whose roster and folders it serves"
                     ).tag(config=True)
    ip = Unicode("127.0.0.1", help="address to listen on").tag(config=True)
    port = Integer(0, help="port to listen on (0: from $JUPYTERHUB_SERVICE_URL, else 8765)"
                   ).tag(config=True)
    base_url = Unicode(help="URL prefix of every route (default: $JUPYTERHUB_SERVICE_PREFIX, "
                       "else /services/exchange/)").tag(config=True)
    max_submission_bytes = Integer(MAX_SUBMISSION_BYTES,
                                   help="largest submission accepted, in bytes of file content"
                                   ).tag(config=True)
    staff_services = List(Unicode(), help="hub services whose tokens act as graders (the "
                          "formgrader); default: $COURSE_EXCHANGE_STAFF_SERVICES, comma-separated"
                          ).tag(config=True)
    cache_max_age = Integer(300, help="seconds the hub's answer about a token is reused").tag(
        config=True)

    @default("base_url")
    def _base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/exchange/")

    @default("staff_services")
    def _staff_services(self):
        return [s for s in os.environ.get("COURSE_EXCHANGE_STAFF_SERVICES", "").split(",") if s]

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
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="exchange-store")
        self.exchange = self._pool.submit(
            CourseExchange, Path(self.course), max_submission_bytes=self.max_submission_bytes
        ).result()
        self.course_id = self.exchange.course_id
        self.hub_auth = HubAuth(cache_max_age=self.cache_max_age, allow_token_in_url=False)
        self.in_flight = 0

    async def call(self, func):
        """Run ``func(exchange)`` on the store's one worker thread (the gradebook's session)."""

        def work():
            self.exchange.refresh()
            return func(self.exchange)

        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def authenticate(self, handler: web.RequestHandler) -> dict:
        token = self.hub_auth.get_token(handler, in_cookie=False)
        if not token:
            raise web.HTTPError(401, "no token: send 'Authorization: token <your JupyterHub "
                                "API token>' ($JUPYTERHUB_API_TOKEN in a user's server)")
        model = await self.hub_auth.user_for_token(token, sync=False)
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
                                for path, handler in routes])

    async def run_forever(self, ready=None) -> None:
        server = httpserver.HTTPServer(self.make_app(), max_body_size=4 * self.max_body_bytes,
                                       idle_connection_timeout=60)
        server.listen(self.port, self.ip)
        log.info("exchange for %s on http://%s:%d%s", self.course_id, self.ip, self.port,
                 self.base_url)
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
        await loop.run_in_executor(self._pool, self.exchange.close)
        self._pool.shutdown(wait=True)


def main(course: str | Path, *, ip: str = "127.0.0.1", port: int | None = None,
         base_url: str | None = None, max_submission_bytes: int | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[exchange %(asctime)s] %(message)s")
    kwargs = {"course": str(course), "ip": ip}
    if port:
        kwargs["port"] = port
    if base_url:
        kwargs["base_url"] = base_url
    if max_submission_bytes:
        kwargs["max_submission_bytes"] = max_submission_bytes
    service = ExchangeService(**kwargs)
    asyncio.run(service.run_forever(ready=lambda: print(
        f"exchange ready on http://{ip}:{service.port}{service.base_url}", flush=True)))
    return 0

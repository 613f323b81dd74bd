"""The exchange's request handlers: one per route (the routes and their errors are listed in
``exchange/service.py``, which wires them to the paths).

A request flows through ``ApiHandler.prepare`` before a byte of its body is read: the token
(``ExchangeService.authenticate``, ``exchange/auth.py``), the course the path names and the
user's role in it (``ExchangeService.role``), then the body's cap for the route (a refusal is
answered once its body is read and dropped, ``ApiHandler._drain_before``). The handler's
method checks what the role may do, parses an upload off the event loop
(``UploadHandler.upload``, ``files``) and runs the course's own work on its store thread
(``ApiHandler.run``: ``course.store.CourseExchange``), mapping the store's errors to HTTP codes.
Each handler gets the ``ExchangeService`` as ``service``; nothing here imports it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from tornado import web

from course.calendar import utcnow
from course.errors import UnknownId, UserError
from course.inbox import (
    IDEMPOTENCY_HEADER,
    KeyReused,
    NotReleased,
    QuotaExceeded,
    StudentBusy,
    SubmissionTooLarge,
    check_names,
)
from course.store import Conflict, Forbidden, NotFound, TooLarge, row_id

from . import wire
from .courses import ServedCourse
from .group_commit import GroupCommit, HandIn

__all__ = [
    "READS",
    "SMALL_BODY",
    "ApiHandler",
    "AssignmentHandler",
    "AssignmentsHandler",
    "CollectHandler",
    "CoursesHandler",
    "FeedbackHandler",
    "FeedbackListHandler",
    "HealthHandler",
    "NoRouteHandler",
    "SubmissionFilesHandler",
    "SubmissionsHandler",
    "SubmitHandler",
    "SummaryHandler",
    "UploadHandler",
]

log = logging.getLogger("exchange")

TIME_FIELDS = {"timestamp", "received_at", "received_utc", "time", "submitted_at"}
SMALL_BODY = 64 * 1024  # the body cap of routes that take no upload (a stray "{}" is fine)
REFUSED_BODY_TIMEOUT_S = 60  # a refused body that trickles in longer is cut off
READS = ("GET", "HEAD", "OPTIONS")


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

    def initialize(self, service):
        self.service = service  # the ExchangeService (exchange/service.py) serving this route
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
        self._refusal: web.HTTPError | None = None
        try:
            await self._authorize()
        except web.HTTPError as refusal:
            if not self._drain_before(refusal):
                raise

    def _drain_before(self, refusal: web.HTTPError) -> bool:
        """Answer ``refusal`` only once the body (at most an upload's cap) is read and thrown
        away. Answering first makes tornado close a socket with unread bytes, which sends a
        reset: the hub's proxy, still forwarding the body, then tells the student 503 instead
        of 401/403/404 (about half the time) and may hand that dead connection to the next
        hand-in. A body over the cap is answered at once, and the connection closed."""
        if self.request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            length = self.service.max_body_bytes  # unknown: drained up to the cap
        else:
            try:
                length = int(self.request.headers.get("Content-Length") or 0)
            except ValueError:
                return False
        if not 0 < length <= self.service.max_body_bytes:
            return False
        self._refusal = refusal
        self.request.connection.set_max_body_size(length)
        self.request.connection.set_body_timeout(REFUSED_BODY_TIMEOUT_S)
        setattr(self, self.request.method.lower(), self._refuse)  # called once the body is in
        return True

    def _refuse(self, *args, **kwargs):
        raise self._refusal

    async def _authorize(self):
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
        check = self.roster_check()

        def checked(ex):
            check(ex)
            return func(ex)

        return await self.mapped(self.service.call(self.served, checked))

    def roster_check(self):
        """``check(exchange)``, run on the store thread: Forbidden if the user's role in the
        course file the store sees now is no longer the one this request was authorized as."""
        user, role, served = self.user, self.role, self.served
        is_user = self.model.get("kind", "user") != "service"

        def check(ex):
            if is_user and ex.role(user) != role:
                raise Forbidden(f"{user} is no longer a {role.name} in the roster of "
                                f"{served.course_id}")

        return check

    async def mapped(self, work):
        """The result of ``work`` (awaitable) with the store's errors as HTTP codes."""
        try:
            return await work
        except Forbidden as exc:
            raise web.HTTPError(403, str(exc)) from None
        except StudentBusy as exc:  # before UserError: nothing stored, the client retries
            raise web.HTTPError(503, str(exc)) from None
        except (Conflict, KeyReused) as exc:
            raise web.HTTPError(409, str(exc)) from None
        except (TooLarge, SubmissionTooLarge, QuotaExceeded) as exc:
            raise web.HTTPError(413, str(exc)) from None
        except (NotFound, UnknownId, NotReleased) as exc:  # before UserError: these are too
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
        if self._refusal is None:  # a refused upload's body is read, never kept
            self._body += chunk
            self._last_byte = utcnow()

    def arrived(self) -> dt.datetime:
        return (self._last_byte or utcnow()) - self._held

    async def upload(self, allowed: set[str], required: set[str] = frozenset({"files"})) -> dict:
        body, self._body = bytes(self._body), bytearray()
        self._size = len(body)
        self._document = await self.service.parse(lambda: _json_object(body), self._size)
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
            return await self.service.parse(decode, self._size)
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
                courses.append({"course_id": served.course_id, "title": served.roster.course.title,
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
    """A hand-in: by group commit (``exchange/group_commit.py``: one flush of the disk and one
    gradebook transaction for the hand-ins that arrive together, each answered once durable;
    a retry under the same idempotency key gets its first receipt)."""

    def group_commit(self) -> GroupCommit:
        """The course's queue of hand-ins, made by its first hand-in."""
        service, served = self.service, self.served
        if served.course_id not in service.hand_ins:
            service.hand_ins[served.course_id] = GroupCommit(
                lambda func: service.call(served, func))
        return service.hand_ins[served.course_id]

    async def post(self, course_id, assignment_id):
        received_at = self.arrived()  # first: nothing below can delay it
        self.require_student("submit")
        files, student = await self.files(await self.upload({"files"})), self.user
        key = self.request.headers.get(IDEMPOTENCY_HEADER)  # a retry's: its first receipt
        receipt = await self.mapped(self.group_commit().submit(
            HandIn(student, assignment_id, files, received_at, self.roster_check(), key)))
        self.set_status(201)
        self.finish(receipt)


class SubmissionsHandler(ApiHandler):
    async def get(self, course_id):
        student = self.student_filter()
        assignment = self.get_query_argument("assignment_id", None) or None
        now = utcnow()

        def listing(ex):
            out = []
            for r in ex.receipts(student_id=student, assignment_id=assignment):
                if self.role.staff or ex.feedback_opening(r, now).open:
                    out.append(ex.describe(r))
                else:  # before its time (course file's feedback: when): none listed
                    out.append({**ex.describe(r, feedback=False), "feedback": {}})
            return out

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
        now = utcnow()

        def listing(ex):
            out = []
            for receipt in ex.receipts(student_id=student, assignment_id=assignment):
                if not self.role.staff and not ex.feedback_opening(receipt, now).open:
                    continue  # before its time (course file's feedback: when): none
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

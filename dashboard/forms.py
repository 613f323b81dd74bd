"""The dashboard's forms (each a POST with the page's XSRF token): a student spends late days and
asks for a regrade; staff answer regrade requests; instructors grant or revoke extensions and
excuses and draw presenters. Each calls the library function its command calls."""

from __future__ import annotations

import logging
import re

from tornado import web

from course import calendar
from course.errors import UserError
from course.store import row_id
from course.workspace import Workspace

from .handler_base import BaseHandler

__all__ = ["DrawHandler", "GrantHandler", "LateDaysHandler", "RegradeAnswerHandler",
           "RegradeAskHandler"]

log = logging.getLogger("dashboard")


class LateDaysHandler(BaseHandler):
    """POST me/late-days: ``action`` spend (``days``) or withdraw, ``assignment``. Only a
    student, only their own: who comes from the login, never from the form, and the budget
    from the course file (``course.late_days`` checks every request)."""

    async def post(self):
        from course.late_days import spend, withdraw
        from course.policy import late_days_text

        if self.role != "student":
            raise web.HTTPError(403, f"only students spend their own late days; {self.user} "
                                f"is staff ({self.role}): course late-days spend does it "
                                "for a student")
        action = self.get_body_argument("action", "spend")
        assignment_id = self.get_body_argument("assignment", "")
        days_text = self.get_body_argument("days", "1").strip()
        if action not in ("spend", "withdraw"):
            raise web.HTTPError(400, f"action must be spend or withdraw, not {action!r}")
        if not re.fullmatch(r"[0-9]{1,3}", days_text):  # isdigit() takes "²", int() not
            raise web.HTTPError(400, f"days must be a whole number, not {days_text[:20]!r}")
        me, now, days = self.user, calendar.utcnow(), int(days_text)

        def act(ws: Workspace) -> str:
            with ws.gradebook() as gb:
                if action == "spend":
                    row = spend(ws, gb, me, assignment_id, days, now=now, by=me)
                    done = f"{late_days_text(row.days)} spent on {assignment_id}"
                else:
                    row = withdraw(ws, gb, me, assignment_id, now=now, by=me)
                    done = f"withdrew the late days asked for on {assignment_id}"
                gb.commit()
            self.service.standing.clear()
            return done

        try:
            done = await self.run(act)
        except UserError as exc:
            self.back("me", "error", str(exc))
            return
        log.info("%s: %s", me, done)
        self.back("me", "ok", done)


class GrantHandler(BaseHandler):
    """POST students/S/extension|excuse: ``action`` grant or revoke, ``assignment``,
    ``reason`` (and ``until``, local time, to grant an extension)."""

    async def post(self, student_id, kind):
        from course.gradebook.records import (
            grant_excuse,
            grant_extension,
            revoke_excuse,
            revoke_extension,
        )

        self.require_instructor("grant or revoke extensions and excuses")
        action = self.get_body_argument("action", "grant")
        assignment_id = self.get_body_argument("assignment", "")
        reason = self.get_body_argument("reason", "").strip()
        until_text = self.get_body_argument("until", "").strip()
        by, now = self.user, calendar.utcnow()
        if action not in ("grant", "revoke"):
            raise web.HTTPError(400, f"action must be grant or revoke, not {action!r}")

        def act(ws: Workspace) -> str:
            course = ws.course
            course.student(student_id)
            course.assignment(assignment_id)
            if not reason:
                raise UserError("give a reason: it is recorded with the grant")
            with ws.gradebook() as gb:
                if kind == "excuse" and action == "grant":
                    grant_excuse(gb, student_id, assignment_id, reason, by=by)
                    done = f"excused {student_id} from {assignment_id}"
                elif kind == "excuse":
                    revoke_excuse(gb, student_id, assignment_id, reason, now=now, by=by)
                    done = f"revoked the excuse of {student_id} from {assignment_id}"
                elif action == "grant":
                    until = calendar.typed_local_time(until_text, course.zone)
                    if until <= course.due(assignment_id):
                        raise UserError(f"{until_text} is not after the deadline "
                                        f"{calendar.readable_local(course.due(assignment_id), course.zone)}")
                    grant_extension(gb, student_id, assignment_id, until, reason, by=by)
                    done = (f"extended {assignment_id} for {student_id} until "
                            f"{calendar.readable_local(until, course.zone)}")
                else:
                    revoke_extension(gb, student_id, assignment_id, reason, now=now, by=by)
                    done = f"revoked the extension of {assignment_id} for {student_id}"
                gb.commit()
            return done

        try:
            done = await self.run(act)
        except UserError as exc:
            self.back(f"students/{student_id}", "error", str(exc))
            return
        log.info("%s: %s (%s)", by, done, reason)
        self.back(f"students/{student_id}", "ok", done)


class RegradeAskHandler(BaseHandler):
    """POST me/regrades: a student asks for a regrade (``assignment``, ``item``, ``reason``) of
    their own work, always the logged-in student's: a form naming another is refused."""

    async def post(self):
        from course.regrades import file_request

        if self.staff:
            raise web.HTTPError(403, "staff file a request for a student with course regrade "
                                "file")
        me, now = self.user, calendar.utcnow()
        if self.get_body_argument("student", me) != me:
            raise web.HTTPError(403, f"{me} may ask for a regrade of their own work only")
        assignment_id = self.get_body_argument("assignment", "")
        item = self.get_body_argument("item", "")
        reason = self.get_body_argument("reason", "")
        try:
            row = await self.run(lambda ws: file_request(ws, me, assignment_id, item, reason,
                                                         now=now, by=me))
        except UserError as exc:
            self.back("me", "error", str(exc))
            return
        log.info("%s asked for a regrade of %s in %s (#%d)", me, row.item, row.assignment_id,
                 row.id)
        self.back("me", "ok", f"asked for a regrade of {row.item} in {row.assignment_id} "
                  f"(request #{row.id})")


class RegradeAnswerHandler(BaseHandler):
    """POST regrades/N: staff accept a request with a new ``score`` (instructors; graders where
    the course file allows it: ``course.regrades.may_accept``) or reject it (graders too);
    ``answer`` says why; ``back``: student or assignment page."""

    async def post(self, request_id):
        from course.gradebook.regrades import get_request
        from course.regrades import accept, may_accept, reject

        if not self.staff:
            raise web.HTTPError(403, "only the course's instructors and graders answer regrade "
                                "requests")
        number = row_id(request_id)
        action = self.get_body_argument("action", "")
        if action not in ("accept", "reject"):
            raise web.HTTPError(400, f"action must be accept or reject, not {action[:40]!r}")
        answer = self.get_body_argument("answer", "")
        score_text = self.get_body_argument("score", "").strip()
        to_assignment = self.get_body_argument("back", "") == "assignment"
        by, now, role = self.user, calendar.utcnow(), self.role

        def act(ws: Workspace):
            if action == "accept" and not may_accept(ws.course, role):
                raise web.HTTPError(403, f"only the course's instructors accept regrade requests "
                                    f"(a new score); {by} is a {role}, who may reject")
            with ws.gradebook() as gb:
                row = get_request(gb, number) if number is not None else None
            if row is None:
                return None
            page = f"assignments/{row.assignment_id}" if to_assignment \
                else f"students/{row.student_id}"
            try:
                if action == "reject":
                    reject(ws, row.id, answer, now=now, by=by)
                    return page, "ok", f"rejected regrade request #{row.id}"
                try:
                    score = float(score_text)
                except ValueError:
                    raise UserError("give the new score as a number") from None
                accept(ws, row.id, score, answer, now=now, by=by)
            except UserError as exc:
                return page, "error", str(exc)
            return page, "ok", (f"accepted regrade request #{row.id}: {row.student_id}'s "
                                f"{row.assignment_id} now scores {score:g}")

        done = await self.run(act)
        if done is None:
            raise web.HTTPError(404, "no such regrade request")
        page, kind, text = done
        if kind == "ok":
            log.info("%s: %s", by, text)
        self.back(page, kind, text)


class DrawHandler(BaseHandler):
    async def post(self, assignment_id):
        from course.presenters import draw

        self.require_instructor("draw presenters")
        text = self.get_body_argument("count", "").strip()
        if text and not re.fullmatch(r"[0-9]{1,3}", text):  # isdigit() takes "²", int() not
            raise web.HTTPError(400, f"count must be a number, not {text[:20]!r}")
        count, by, now = int(text) if text else None, self.user, calendar.utcnow()

        def act(ws: Workspace) -> str:
            with ws.gradebook() as gb:
                result = draw(ws.course, gb, assignment_id, count=count, as_of=now, by=by)
            return (f"drew {len(result.picked)} of {result.eligible} students "
                    f"(seed {result.seed}): {', '.join(result.picked)}")

        try:
            done = await self.run(act)
        except UserError as exc:
            self.back(f"assignments/{assignment_id}", "error", str(exc))
            return
        log.info("%s: %s", by, done)
        self.back(f"assignments/{assignment_id}", "ok", done)

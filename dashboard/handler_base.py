"""What every page and form of the dashboard shares: who is asking (the hub's OAuth login, the
course role from the roster as it is now), work on the service's data thread checked against the
same course file, pages, flashes and errors."""

from __future__ import annotations

from jupyterhub.services.auth import HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from course.errors import UnknownId
from course.roles import role_in
from course.workspace import Workspace

from . import pages

__all__ = ["FLASH", "BaseHandler"]

FLASH = "dashboard-flash"


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Logs in through the hub, resolves the course role, renders pages and errors."""

    def initialize(self, service):  # the DashboardService
        self.service = service
        self.hub_auth = service.hub_auth
        self.role: str | None = None

    async def prepare(self):
        model = self.current_user
        if not model:
            if self.request.method in ("GET", "HEAD"):
                self.redirect(self.get_login_url())
                return
            raise web.HTTPError(403, "log in through the hub first")
        # the roster as it is now (not as the last request left it): a removal counts at once
        self.role = await self.service.role(model["name"]) if model.get("kind") == "user" else None
        if self.role is None:
            raise web.HTTPError(403, f"{model['name']} is not in the roster of "
                                f"{self.service.course_id}")

    @property
    def user(self) -> str:
        return self.current_user["name"]

    @property
    def staff(self) -> bool:
        return self.role in ("instructor", "grader")

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"

    def require_staff(self) -> None:
        if not self.staff:
            raise web.HTTPError(403, "only the course's instructors and graders see this page")

    def require_instructor(self, action: str) -> None:
        if not self.instructor:
            raise web.HTTPError(403, f"only the course's instructors {action}; {self.user} is a "
                                f"{self.role} (graders grade, in the formgrader)")

    async def run(self, func):
        """``func(workspace)`` on the service's worker thread; unknown ids are 404s. The role is
        checked again there, in the course file ``func`` sees: a roster edit that landed while
        the request waited for the thread is not missed."""
        user, role = self.user, self.role

        def checked(ws: Workspace):
            now_role = role_in(ws.course, user)
            if (now_role.name if now_role is not None else None) != role:
                raise web.HTTPError(403, f"{user} is no longer a {role} in the roster of "
                                    f"{self.service.course_id}")
            return func(ws)

        try:
            return await self.service.call(checked)
        except UnknownId as exc:
            raise web.HTTPError(404, str(exc)) from None

    def page(self, template: str, context: dict, now) -> None:
        flash = self.get_signed_cookie(FLASH, max_age_days=1)
        messages = []
        if flash:
            kind, _, text = flash.decode().partition(":")
            messages.append({"kind": kind, "text": text})
            self.clear_cookie(FLASH, path=self.service.base_url)
        ws = context.pop("ws")
        self.set_header("Cache-Control", "no-store")
        self.finish(pages.render(
            template, now=now, zone=ws.course.zone, course=ws.course, base=self.service.base_url,
            static=lambda name: url_path_join(self.service.base_url, "static", name)
            + f"?v={self.service.asset_version}",
            user=self.user, role=self.role, staff=self.staff, instructor=self.instructor,
            messages=messages,
            xsrf=self.xsrf_token.decode(), **context))

    def back(self, path: str, kind: str, text: str) -> None:
        self.set_signed_cookie(FLASH, f"{kind}:{text}", path=self.service.base_url,
                               httponly=True, samesite="Lax")
        self.redirect(url_path_join(self.service.base_url, path), status=303)

    def write_error(self, status_code, **kwargs):
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.ENV.get_template("error.html").render(status=status_code,
                                                                message=message))

"""What the staff may do in a course's formgrader service: grade, and nothing that runs code.

The formgrader is a Jupyter server (its JupyterLab frames nbgrader's formgrader), so by default
anyone who may open it could start kernels and terminals and write any file in the course
folder (the course file, the gradebook, an ``nbgrader_config.py`` that nbgrader executes).
This server extension closes that, on every request and from fresh data:

- **Nobody** starts a kernel, a session or a terminal here (instructors author and try
  notebooks in their own servers), and nobody writes through the contents API: the course
  folder changes only through nbgrader's formgrader actions and the ``course`` commands.
- **Who may open it at all** is the course file's roster as it is now (read again whenever the
  file changed): an instructor or grader removed from it is refused on their next request,
  whatever the hub's groups still say.
- **Graders grade** (collect, autograde, scores, comments, flags, feedback); only instructors
  generate, release or unrelease an assignment. The roster and the due dates come from the
  course file (``course roster ...``, recorded with who and when), so nbgrader's own
  "add student" and "edit assignment" routes, which would change them behind it, are refused
  for everyone.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

from jupyter_server.auth import Authorizer
from tornado import web

__all__ = ["REFUSED", "FormgraderAuthorizer", "RosterRoles", "refusal"]

REFUSED = "Refused by the course's roles"  # the HTTP reason phrase of every refusal here

# nbgrader's formgrader API routes, relative to the service's base URL
_INSTRUCTOR_ONLY = re.compile(r"formgrader/api/assignment/[^/]+/(assign|release|unrelease)/?$")
_NOBODY = re.compile(r"formgrader/api/(student|assignment)/[^/]+/?$")  # PUT: roster, due dates
_CODE = {"kernels", "sessions", "terminals"}


class RosterRoles:
    """A user's role in the course file as it is on disk now (``course.fresh_course``); while
    the file does not load, no one has one (``broken`` says why)."""

    def __init__(self, course_file: str | Path):
        from course.fresh_course import FreshCourse

        self._fresh = FreshCourse(course_file)

    @property
    def broken(self) -> str | None:
        return self._fresh.broken

    def role(self, user: str) -> str | None:
        from course.roles import role_in

        course = self._fresh.course()
        role = role_in(course, user) if course is not None else None
        return role.name if role is not None else None


def refusal(role: str | None, method: str, path: str) -> str | None:
    """Why a request is refused (None: allowed); ``path`` is relative to the service."""
    if role not in ("instructor", "grader"):
        return "not an instructor or grader of this course (its course file's roster)"
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    if _NOBODY.search(path) and method in ("PUT", "POST"):
        return ("the roster and the due dates come from the course file: change them there "
                "(course roster import / drop), not in the formgrader")
    if _INSTRUCTOR_ONLY.search(path) and role != "instructor":
        return "only instructors generate and release assignments; graders grade"
    return None


class FormgraderAuthorizer(Authorizer):
    """Jupyter Server's own checks (contents, kernels, terminals, ...): reading is allowed,
    running code and writing files is not, for anyone."""

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        if resource in _CODE or resource == "contents":
            return action == "read"
        return True


def _gate(serverapp, roles: RosterRoles) -> None:
    """Check the roster and the route on every request, right after the hub said who it is."""
    provider = serverapp.identity_provider
    get_user = provider.get_user
    base = serverapp.base_url

    async def gated_get_user(handler):
        user = get_user(handler)
        if inspect.isawaitable(user):
            user = await user
        if user is None:  # not logged in: the hub's login flow as usual
            return None
        path = handler.request.path
        relative = path.removeprefix(base)
        why = refusal(roles.role(user.username), handler.request.method, relative)
        if roles.broken:
            why = f"the course file does not load, so no one is let in: {roles.broken}"
        if why is not None:
            serverapp.log.warning("formgrader: refused %s %s for %s: %s",
                                  handler.request.method, path, user.username, why)
            # the reason phrase survives nbgrader's error page, which shows no message
            raise web.HTTPError(403, why, reason=REFUSED)
        return user

    provider.get_user = gated_get_user


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    if not isinstance(serverapp.authorizer, FormgraderAuthorizer):
        # never serve a formgrader that could run code: stop rather than start open
        raise TypeError("the formgrader needs ServerApp.authorizer_class = "
                           "hub_config.formgrader.gate.FormgraderAuthorizer")
    _gate(serverapp, RosterRoles(os.environ["COURSE_FILE"]))

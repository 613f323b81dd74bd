"""On the hub, the course's formgrader is the hub service, never the user's own server.

A Jupyter server extension for users' servers, in place of nbgrader's course_list extension
(``jupyter_server_config.py`` beside this file switches nbgrader's course_list and formgrader
off and this on). nbgrader's Course List looks for the service at ``/services/<course id>``;
the hub registers it as ``hub_config.roles.formgrader_name``, which the hub passes to the
course's staff in ``$COURSE_FORMGRADER_SERVICE`` (comma-separated for the staff of several
courses; students get none). So:

``/formgraders``
    nbgrader's Course List: the formgrader service (its JupyterLab with the formgrader open)
    of each course the user is staff of; an empty list for students. No "local" entry.
``/formgrader``
    what Nbgrader > Formgrader frames: a page that links to that service (in a tab of its own,
    where the formgrader's links to notebooks open in the service's JupyterLab).
``/nbgrader_version``
    nbgrader's own version check, which the Course List calls first.
"""

from __future__ import annotations

import html
import json
import os

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.course_list.handlers import NbGraderVersionHandler
from tornado import web

__all__ = ["SERVICE_ENV", "formgrader_courses"]

SERVICE_ENV = "COURSE_FORMGRADER_SERVICE"
FORMGRADER_PREFIX = "formgrader-"  # hub_config.roles.formgrader_name: formgrader-<course id>


def formgrader_courses(origin: str) -> list[dict]:
    """nbgrader's Course List entries: the formgrader of each course this user is staff of
    (``$COURSE_FORMGRADER_SERVICE``: their service names, comma-separated)."""
    base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    courses = []
    for service in filter(None, os.environ.get(SERVICE_ENV, "").split(",")):
        prefix = url_path_join(base, "services", service)
        courses.append({"course_id": service.removeprefix(FORMGRADER_PREFIX),
                        "url": origin + prefix.rstrip("/") + "/lab?formgrader=true",
                        "kind": "jupyterhub"})
    return courses


class CourseListHandler(JupyterHandler):
    @web.authenticated
    def get(self):
        origin = f"{self.request.protocol}://{self.request.host}"
        self.finish(json.dumps({"success": True, "value": formgrader_courses(origin)}))


class FormgraderLinkHandler(JupyterHandler):
    def set_default_headers(self):
        super().set_default_headers()
        # framed by this user's own JupyterLab (JupyterHub's default here is 'none')
        self.set_header("Content-Security-Policy", "frame-ancestors 'self'")

    @web.authenticated
    def get(self):
        courses = formgrader_courses("")
        if not courses:
            raise web.HTTPError(404, "no formgrader here: the course's formgrader is a hub "
                                "service for its instructors and graders")
        links = "".join(
            f'<p><a href="{html.escape(c["url"])}" target="_blank" rel="noopener">'
            f'Open the formgrader of {html.escape(c["course_id"])}</a></p>' for c in courses)
        self.finish(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Formgrader"
                    f"</title></head><body style='font-family: sans-serif; margin: 2em'>"
                    f"<p>The course's formgrader runs on the hub and opens in a tab of its "
                    f"own.</p>{links}</body></html>")


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    base_url = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base_url, "formgraders"), CourseListHandler),
        (url_path_join(base_url, "formgrader/?"), FormgraderLinkHandler),
        (url_path_join(base_url, "nbgrader_version"), NbGraderVersionHandler),
    ])

"""The formgrader's Autograde grades as ``course grade`` does, with the same isolation.

nbgrader's own Autograde button runs nbgrader's autograde inside the formgrader's process. This
server extension answers that route (``formgrader/api/submission/<assignment>/<student>/
autograde``) with ``course.grade.grade`` for the one student instead: the course's own engine
and limits, on the grading fleet where the course file says ``grading: {backend: celery}``
(so the formgrader itself needs no sandbox privileges), the run recorded in the gradebook like
any other, and the answer in the shape nbgrader's page shows (``success``, ``log``, ``error``).

Extensions load in name order, so this route is registered before nbgrader's and wins.
"""

from __future__ import annotations

import asyncio
import json
import os

from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.formgrader.base import BaseApiHandler, check_xsrf
from tornado import web

__all__ = ["autograde_answer"]

ROUTE = r"/formgrader/api/submission/([^/]+)/([^/]+)/autograde"


def autograde_answer(course_file: str, assignment_id: str, student_id: str) -> dict:
    """Grade one student's submission that counts, as ``course grade`` would."""
    from course.errors import UserError
    from course.grade import grade
    from course.workspace import open_workspace

    try:
        (outcome,) = grade(open_workspace(course_file), assignment_id, students=[student_id])
    except UserError as error:
        return {"success": False, "error": str(error), "log": ""}
    if outcome.outcome != "success":
        return {"success": False, "error": outcome.message, "log": "\n".join(outcome.warnings)}
    done = (f"Successfully autograded {student_id}'s {assignment_id}: {outcome.score:g} of "
            f"{outcome.max_score:g} points ({outcome.seconds:.1f} s)")
    lines = [done, *outcome.warnings]
    return {"success": True, "log": "\n".join(lines)}


class AutogradeHandler(BaseApiHandler):
    @web.authenticated
    @check_xsrf
    async def post(self, assignment_id: str, student_id: str):
        answer = await asyncio.get_running_loop().run_in_executor(
            None, autograde_answer, os.environ["COURSE_FILE"], assignment_id, student_id)
        self.write(json.dumps(answer))


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    route = url_path_join(serverapp.web_app.settings["base_url"], ROUTE)
    serverapp.web_app.add_handlers(".*$", [(route, AutogradeHandler)])

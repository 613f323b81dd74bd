"""The LTI tool's public keys (JWKS), a JupyterHub service: what a platform fetches to verify
the tool's signed client assertions (``course.lms.lti.client``).

``GET <prefix><course id>/jwks.json`` (the prefix: ``$JUPYTERHUB_SERVICE_PREFIX``, else
``/services/lti-jwks/``) answers the public halves of that course's published keys only
(``course.lms.lti.keys``: the current and, during a rotation, the previous one): each course's
registrations paste their own course's URL, so a platform never accepts one course's key for
another course's client id. ``<prefix>jwks.json`` answers too while the hub serves one course
(a hub with several has no such URL). It is public by design: no login, nothing but ``kty``,
``n``, ``e`` and the key's labels. The key folders are read again when a file in them changes,
so a rotation needs no restart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

from tornado import web

from course.coursefile import load_course
from course.lms.lti.keys import jwks, list_keys
from course.lti_platforms import key_folder

__all__ = ["SERVICE_NAME", "jwks_app", "key_folders", "main"]

SERVICE_NAME = "lti-jwks"
DEFAULT_PORT = 8768
log = logging.getLogger("lti-jwks")


def key_folders(course_files: list[Path]) -> dict[str, Path]:
    """Course id -> its key folder. Courses that share one folder (``$COURSE_LTI_KEY_DIR`` set
    for all) share their keys: logged, as each one's key holder can sign for the others."""
    folders: dict[str, Path] = {}
    for course_file in course_files:
        course, path = load_course(course_file)
        folders[course.id] = key_folder(path).resolve()
    shared = {folder for folder in folders.values() if list(folders.values()).count(folder) > 1}
    for folder in shared:
        log.warning("courses %s share the LTI key folder %s: each one's key signs for all; "
                    "give each course its own folder", ", ".join(
                        sorted(c for c, f in folders.items() if f == folder)), folder)
    return folders


class JwksHandler(web.RequestHandler):
    def initialize(self, folders: dict[str, Path]):
        self.folders = folders

    def _published(self, course_id: str) -> str:
        folder = self.folders[course_id]
        state = tuple((k.kid, k.path.stat().st_mtime_ns) for k in list_keys(folder))
        cache = self.application.settings["cache"].setdefault(course_id, {})
        if cache.get("state") != state:
            cache.update(state=state, body=json.dumps(jwks(folder)))
        return cache["body"]

    def get(self, course_id: str | None = None):
        if course_id is None:  # the URL without a course: only a hub of one course has it
            if len(self.folders) != 1:
                raise web.HTTPError(404)
            (course_id,) = self.folders
        if course_id not in self.folders:
            raise web.HTTPError(404)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-cache")  # a rotation's new key signs at once
        self.finish(self._published(course_id))


def jwks_app(folders: dict[str, Path], prefix: str) -> web.Application:
    prefix = "/" + prefix.strip("/") + "/"
    return web.Application([(rf"{prefix}([A-Za-z0-9._-]+)/jwks\.json", JwksHandler,
                             {"folders": folders}),
                            (rf"{prefix}jwks\.json", JwksHandler, {"folders": folders})],
                           cache={})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lti-jwks", description=__doc__.split("\n")[0])
    parser.add_argument("--course", action="append", required=True, type=Path)
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, help=f"default: from $JUPYTERHUB_SERVICE_URL, "
                        f"else {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[lti-jwks %(asctime)s] %(message)s")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    port = args.port
    if not port:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        port = urlsplit(url).port if url else DEFAULT_PORT
    folders = key_folders(args.course)
    for course_id, folder in folders.items():
        if not list_keys(folder):
            log.warning("course %s: no LTI key yet in %s: run `course lti keys rotate`",
                        course_id, folder)

    async def serve():
        app = jwks_app(folders, prefix)
        app.listen(port, address=args.ip)
        # the hub stops a service with SIGINT, which it may have passed on ignored (a hub started
        # in the background by a script): stop on it and on SIGTERM ourselves
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"lti-jwks ready on http://{args.ip}:{port}{prefix}<course id>/jwks.json",
              flush=True)
        await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

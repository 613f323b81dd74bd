"""nbgrader's exchange, spoken over HTTP to the course's exchange service.

Plug-ins for ``nbgrader.exchange.ExchangeFactory``: nbgrader's command line (``nbgrader
fetch_assignment``, ``submit``, ``list``, ``collect``, ``release_assignment``,
``release_feedback``, ``fetch_feedback``) and its JupyterLab Assignments panel work unchanged
once a single-user server's ``nbgrader_config.py`` says::

    from exchange.client import configure
    configure(c, course_id="dl-2026")     # the URL from $COURSE_EXCHANGE_URL

Each class does one HTTP call (or a few) with the user's ``$JUPYTERHUB_API_TOKEN``; the service
decides who the user is and what they may do. Local folders follow nbgrader's layout: an
assignment is fetched into ``<assignment_dir>/<assignment>/``, feedback into its
``feedback/<timestamp>/``, collected submissions into the course's ``submitted/``. The client
never sends a time: the service stamps every receipt.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import json
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

import requests
from nbgrader.exchange import abc
from nbgrader.utils import ignore_patterns
from traitlets import Bool, Float, Integer, Unicode, default

from course.folders import write_folder
from course.inbox import IDEMPOTENCY_HEADER
from course.receipt_files import RECEIPT_FILE, TIMESTAMP_FILE

from . import wire

__all__ = [
    "Exchange",
    "ExchangeCollect",
    "ExchangeFetchAssignment",
    "ExchangeFetchFeedback",
    "ExchangeList",
    "ExchangeReleaseAssignment",
    "ExchangeReleaseFeedback",
    "ExchangeSubmit",
    "configure",
    "receipt_text",
]

URL_ENV = "COURSE_EXCHANGE_URL"
# no answer from the exchange process the request reached (it died, or the proxy found none):
# a hand-in is sent again, under the same idempotency key, to whichever process answers
RETRY_STATUSES = frozenset({502, 503, 504})


def configure(c, *, course_id: str | None = None, url: str | None = None,
              timezone: str | None = None) -> None:
    """Point nbgrader config ``c`` at this exchange (every ExchangeFactory plug-in);
    ``timezone`` (the course's, an IANA name): the zone nbgrader shows times in (the
    formgrader's due dates and submission times, ``NbGraderAPI.timezone``) and its exchange
    stamps its own times in (``Exchange.timezone``; this exchange's receipts are the
    service's)."""
    for trait, cls in (("exchange", "Exchange"), ("fetch_assignment", "ExchangeFetchAssignment"),
                       ("fetch_feedback", "ExchangeFetchFeedback"),
                       ("release_assignment", "ExchangeReleaseAssignment"),
                       ("release_feedback", "ExchangeReleaseFeedback"), ("list", "ExchangeList"),
                       ("submit", "ExchangeSubmit"), ("collect", "ExchangeCollect")):
        setattr(c.ExchangeFactory, trait, f"{__name__}.{cls}")
    if course_id:
        c.CourseDirectory.course_id = course_id
    if url:
        c.Exchange.service_url = url
    if timezone:
        c.NbGraderAPI.timezone = timezone
        c.Exchange.timezone = timezone


def receipt_text(row: dict) -> str:
    """A receipt as its student reads it: '2026-12-06 21:20:07 (Europe/Berlin): on time' or
    ': late by 3 min', from the service's ``received_local`` and ``verdict``; the service's
    stamp as it is (UTC) from a service that sends neither."""
    if not row.get("received_local"):
        return row["timestamp"]
    return f"{row['received_local']}: {row['verdict']}" if row.get("verdict") else \
        row["received_local"]


class Exchange(abc.Exchange):
    """The HTTP side shared by every action."""

    service_url = Unicode(help="the exchange service's URL, e.g. "
                          "http://hub:8000/services/exchange/ (default: $COURSE_EXCHANGE_URL)"
                          ).tag(config=True)
    api_token = Unicode(help="the user's JupyterHub API token (default: $JUPYTERHUB_API_TOKEN)"
                        ).tag(config=True)
    timeout = Float(120.0, help="seconds to wait for the exchange to answer").tag(config=True)
    path_includes_course = Bool(False, help="fetch into ./<course>/<assignment> rather than "
                                "./<assignment>, as nbgrader's own option").tag(config=True)
    retries = Integer(6, help="times a hand-in (or a read) is sent again when it got no answer "
                      "(connection refused or reset, HTTP 502/503/504)").tag(config=True)
    retry_backoff = Float(0.5, help="seconds before the first retry; doubled each time (to 8 s)"
                          ).tag(config=True)

    @default("service_url")
    def _default_url(self):
        return os.environ.get(URL_ENV, "")

    @default("api_token")
    def _default_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    # -- HTTP ------------------------------------------------------------------------------
    def api(self, method: str, *parts: str, params: dict | None = None,
            body: dict | None = None, retry: bool | None = None) -> dict:
        """One call to the exchange. ``retry`` (default: reads; hand-ins and collection ask
        for it): sent again, with backoff, while it gets no answer. A retried POST carries one
        idempotency key on every try: a hand-in that did land the first time is stored once
        and answered with its receipt."""
        if not self.service_url:
            self.fail(f"no exchange URL: set ${URL_ENV} or c.Exchange.service_url")
        if not self.api_token:
            self.fail("no JupyterHub token: set $JUPYTERHUB_API_TOKEN or c.Exchange.api_token")
        url = "/".join([self.service_url.rstrip("/"), wire.API, *(quote(p, safe="") for p in parts)])
        headers = {"Authorization": f"token {self.api_token}", "Content-Type": "application/json"}
        retry = method == "GET" if retry is None else retry
        if retry and method == "POST":  # one key per hand-in, the same on each of its retries
            headers[IDEMPOTENCY_HEADER] = secrets.token_urlsafe(24)
        data = None if body is None else json.dumps(body)
        for attempt in range(self.retries + 1 if retry else 1):
            last = attempt == (self.retries if retry else 0)
            try:
                reply = requests.request(method, url, params=params, data=data, headers=headers,
                                         timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    self.fail(f"cannot reach the exchange at {self.service_url}: {exc}")
                self.log.warning("no answer from the exchange (%s); trying again", exc)
            except requests.RequestException as exc:
                self.fail(f"cannot reach the exchange at {self.service_url}: {exc}")
            else:
                if reply.status_code not in RETRY_STATUSES or last:
                    break
                self.log.warning("the exchange answered HTTP %d; trying again", reply.status_code)
            time.sleep(min(self.retry_backoff * 2 ** attempt, 8.0))
        if reply.status_code >= 400:
            try:
                message = reply.json().get("error") or reply.reason
            except ValueError:
                message = reply.text[:200] or reply.reason
            self.fail(f"exchange refused {method} {'/'.join(parts)}: {message} "
                      f"(HTTP {reply.status_code})")
        return reply.json()

    def course_path(self, *parts: str) -> list[str]:
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")
        return ["courses", self.coursedir.course_id, *parts]

    def course_ids(self) -> list[str]:
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        return [course["course_id"] for course in self.api("GET", "courses")["courses"]]

    # -- local folders ---------------------------------------------------------------------
    def local_dir(self, course_id: str, assignment_id: str) -> Path:
        parts = [course_id, assignment_id] if self.path_includes_course else [assignment_id]
        return Path(self.assignment_dir, *parts).absolute()

    def read_folder(self, folder: Path) -> dict[str, bytes]:
        """Files under ``folder`` minus CourseDirectory.ignore, non-included and too large ones."""
        skip = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                               max_file_size=self.coursedir.max_file_size, log=self.log)
        files = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            ignored = set(skip(dirpath, dirnames + filenames))
            dirnames[:] = sorted(d for d in dirnames if d not in ignored and not d.startswith("."))
            for name in sorted(filenames):
                if name not in ignored and not name.startswith("."):
                    path = Path(dirpath, name)
                    files[path.relative_to(folder).as_posix()] = path.read_bytes()
        limit = 1000 * self.coursedir.max_dir_size
        if sum(map(len, files.values())) > limit:
            self.fail(f"{folder} holds more than {limit} bytes (CourseDirectory.max_dir_size)")
        return files

    @staticmethod
    def write_folder(dest: Path, files: dict[str, bytes], *, replace: bool = False) -> None:
        """Write ``files`` into a new folder ``dest``, visible only once complete."""
        write_folder(dest, files, replace=replace)

    def init_src(self):
        pass

    def init_dest(self):
        pass


class ExchangeFetchAssignment(Exchange, abc.ExchangeFetchAssignment):
    def init_dest(self):
        self.course_path()
        self.dest_path = self.local_dir(self.coursedir.course_id, self.coursedir.assignment_id)
        if self.dest_path.is_dir() and not self.replace_missing_files:
            self.fail("You already have a copy of the assignment in this directory: "
                      f"{self.coursedir.assignment_id}")

    def copy_files(self):
        aid = self.coursedir.assignment_id
        files = wire.decode_files(self.api("GET", *self.course_path("assignments", aid))["files"])
        if self.dest_path.is_dir():  # replace_missing_files: only what is gone
            for name, content in files.items():
                path = self.dest_path / name
                if not path.exists():
                    self.log.warning("Replacing missing file '%s'", name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
        else:
            self.write_folder(self.dest_path, files)
        self.log.info("Fetched as: %s %s", self.coursedir.course_id, aid)


class ExchangeSubmit(Exchange, abc.ExchangeSubmit):
    def init_src(self):
        self.course_path()
        self.src_path = self.local_dir(self.coursedir.course_id, self.coursedir.assignment_id)
        if not self.src_path.is_dir():
            self.fail(f"Assignment not found at: {self.src_path}")
        student = self.coursedir.student_id
        hub_user = os.environ.get("JUPYTERHUB_USER")
        if student not in ("", "*") and hub_user and student != hub_user:
            self.fail(f"the exchange submits as the token's owner ({hub_user}), not {student}")

    def copy_files(self):
        aid = self.coursedir.assignment_id
        files = self.read_folder(self.src_path)
        released = {n["assignment_id"]: n["notebooks"]
                    for n in self.api("GET", *self.course_path("assignments"))["assignments"]}
        expected = set(released.get(aid, []))
        submitted = {Path(name).stem for name in files
                     if name.endswith(".ipynb") and "/" not in name}
        missing, extra = sorted(expected - submitted), sorted(submitted - expected)
        if missing or extra:
            message = (f"notebooks of {aid}: missing {missing or 'none'}, "
                       f"extra {extra or 'none'}")
            if missing and self.strict:
                self.fail(f"Assignment {aid} not submitted. {message}")
            self.log.warning("Possible missing notebooks and/or extra notebooks: %s", message)
        receipt = self.api("POST", *self.course_path("submissions", aid),
                           body={"files": wire.encode_files(files)}, retry=True)
        self.receipt = receipt
        self.log.info("Submitted as: %s %s %s", self.coursedir.course_id, aid,
                      receipt_text(receipt))
        if receipt.get("notice"):
            self.log.info("%s", receipt["notice"])


class ExchangeList(Exchange, abc.ExchangeList):
    """What nbgrader's Assignments panel shows: released (and fetched) assignments, or the
    user's submissions with the state of their feedback (``cached``), or everyone's
    (``inbound``, staff)."""

    def copy_files(self):
        pass

    def list_files(self):
        assignments = self._released() if not (self.inbound or self.cached) else self._submitted()
        if self.inbound or self.cached:
            self.log.info("Submitted assignments:")
            for assignment in assignments:
                for info in assignment["submissions"]:  # the stamp, then as the student reads it
                    self.log.info("%s %s %s %s (%s)", info["course_id"], info["student_id"],
                                  info["assignment_id"], info["receipt_timestamp"],
                                  info["timestamp"])
        else:
            self.log.info("Released assignments:")
            for info in assignments:
                self.log.info("%s %s%s", info["course_id"], info["assignment_id"],
                              " (already downloaded)" if info["status"] == "fetched" else "")
        return assignments

    def remove_files(self):
        if self.inbound or self.cached:
            self.fail("the exchange keeps every submission; they cannot be removed")
        assignments = self._released()
        for info in assignments:
            self.api("DELETE", "courses", info["course_id"], "assignments", info["assignment_id"])
            info["status"] = "removed"
        return assignments

    def _wanted(self, assignment_id: str) -> bool:
        wanted = self.coursedir.assignment_id
        return not wanted or fnmatch.fnmatchcase(assignment_id, wanted)

    def _released(self) -> list[dict]:
        out = []
        for course_id in self.course_ids():
            for item in self.api("GET", "courses", course_id, "assignments")["assignments"]:
                if not self._wanted(item["assignment_id"]):
                    continue
                local = self.local_dir(course_id, item["assignment_id"])
                fetched = local.is_dir()
                info = {"course_id": course_id, "assignment_id": item["assignment_id"],
                        "status": "fetched" if fetched else "released",
                        "path": str(local) if fetched else
                        f"{self.service_url.rstrip('/')}/{course_id}/{item['assignment_id']}"}
                names = (sorted(p.stem for p in local.glob("*.ipynb")) if fetched
                         else item["notebooks"])
                info["notebooks"] = [{"notebook_id": name,
                                      "path": str(local / f"{name}.ipynb") if fetched else name}
                                     for name in names]
                out.append(info)
        return out

    def _submitted(self) -> list[dict]:
        params = {}
        if self.coursedir.student_id not in ("", "*"):
            params["student_id"] = self.coursedir.student_id
        groups: dict[tuple, list] = {}
        for course_id in self.course_ids():
            rows = self.api("GET", "courses", course_id, "submissions", params=params)
            for row in rows["submissions"]:
                if self._wanted(row["assignment_id"]):
                    key = (course_id, row["student_id"], row["assignment_id"])
                    groups.setdefault(key, []).append(self._submission(row))
        return [{"course_id": c, "student_id": s, "assignment_id": a, "status": "submitted",
                 "submissions": sorted(subs, key=lambda x: x["receipt_timestamp"])}
                for (c, s, a), subs in sorted(groups.items())]

    def _submission(self, row: dict) -> dict:
        """One receipt as nbgrader's Assignments panel shows it. The panel prints ``timestamp``
        as the receipt's text, so that is the receipt as its student reads it (the time in the
        course's zone to the second, in time or how late, whether feedback has come); the
        receipt's own stamp (nbgrader's format, UTC) is ``receipt_timestamp`` and names the
        local feedback folder. "view feedback" shows ``local_feedback_path`` in the file
        browser: the feedback page itself for a one-notebook assignment (selected in its
        folder: nbgrader's panel navigates there, it cannot open a file), else the folder."""
        local = self.local_dir(row["course_id"], row["assignment_id"])
        feedback_dir = local / "feedback" / row["timestamp"]
        info = {key: row[key] for key in ("course_id", "student_id", "assignment_id",
                                           "receipt_id")}
        info.update(status="submitted", path=f"receipt {row['receipt_id']}", notebooks=[],
                    receipt_timestamp=row["timestamp"], timestamp=receipt_text(row))
        for notebook_id in row["notebooks"]:
            name = f"{notebook_id}.html"
            local_file = feedback_dir / name
            has_local = local_file.is_file()
            exchange_md5 = row["feedback"].get(name)
            info["notebooks"].append({
                "notebook_id": notebook_id, "path": f"{notebook_id}.ipynb",
                "has_local_feedback": has_local, "has_exchange_feedback": exchange_md5 is not None,
                "local_feedback_path": str(local_file) if has_local else None,
                "feedback_updated": bool(has_local and exchange_md5 is not None
                                         and wire.md5(local_file.read_bytes()) != exchange_md5)})
        notebooks = info["notebooks"]
        info["has_local_feedback"] = bool(notebooks) and all(n["has_local_feedback"]
                                                             for n in notebooks)
        info["has_exchange_feedback"] = bool(notebooks) and all(n["has_exchange_feedback"]
                                                                for n in notebooks)
        info["feedback_updated"] = any(n["feedback_updated"] for n in notebooks)
        info["local_feedback_path"] = None
        if info["has_local_feedback"]:
            info["local_feedback_path"] = (notebooks[0]["local_feedback_path"]
                                           if len(notebooks) == 1 else str(feedback_dir))
        elif not any(n["has_exchange_feedback"] for n in notebooks):
            info["timestamp"] += ", no feedback yet"
        return info


class ExchangeReleaseAssignment(Exchange, abc.ExchangeReleaseAssignment):
    def init_src(self):
        self.src_path = Path(self.coursedir.format_path(self.coursedir.release_directory, ".",
                                                        self.coursedir.assignment_id))
        if not self.src_path.is_dir():
            self.fail(f"Assignment not found at {self.src_path}: run "
                      "`nbgrader generate_assignment` (or `course generate`) first")

    def copy_files(self):
        aid = self.coursedir.assignment_id
        result = self.api("PUT", *self.course_path("assignments", aid),
                          body={"files": wire.encode_files(self.read_folder(self.src_path)),
                                "force": self.force})
        self.log.info("Released as: %s %s (%s)", self.coursedir.course_id, aid,
                      ", ".join(result["notebooks"]))


class ExchangeCollect(Exchange, abc.ExchangeCollect):
    """The service picks each student's submission that counts (the course policy, on its
    receipt times) and writes it into its own submitted/; this writes the same into the local
    course folder's submitted/, with ``timestamp.txt`` and ``receipt.json`` from the receipt."""

    def init_src(self):
        self.course_path()

    def copy_files(self):
        aid = self.coursedir.assignment_id
        held = self.receipts_held(aid)  # before the service writes: on one machine, it writes here
        reply = self.api("POST", *self.course_path("collect", aid), retry=True)  # repeatable
        collected, wanted = reply["collected"], self.coordinated_students()
        for item in reply.get("failed", []):  # the service collected everyone else
            self.log.error("Could not collect %s %s: %s", item["student_id"], aid, item["error"])
        if not collected:
            self.log.warning("No submissions of '%s' for course '%s' to collect", aid,
                             self.coursedir.course_id)
        for item in collected:
            student = item["student_id"]
            if wanted is not None and student not in wanted:
                continue
            dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                                   aid))
            files = wire.decode_files(item["files"])
            if dest.is_dir():
                same = (dest / RECEIPT_FILE).is_file() and (
                    (dest / RECEIPT_FILE).read_bytes() == files.get(RECEIPT_FILE))
                if same and held.get(student) == files.get(RECEIPT_FILE):
                    self.log.info("Already collected: %s %s (%s)", student, aid, item["timestamp"])
                    continue
                if same:  # the service has just written it into this very course folder
                    self.log.info("Collected submission: %s %s (%s)", student, aid,
                                  item["timestamp"])
                    continue
                if not (self.update or self.before_duedate):
                    self.log.info("Submission already exists, use --update to update: %s %s",
                                  student, aid)
                    continue
                self.log.info("Updating submission: %s %s", student, aid)
            else:
                self.log.info("Collecting submission: %s %s", student, aid)
            self.write_folder(dest, files, replace=True)

    def receipts_held(self, aid: str) -> dict[str, bytes]:
        """The receipt each student's collected folder holds now, by student."""
        pattern = self.coursedir.format_path(self.coursedir.submitted_directory, "*", aid)
        held = {}
        for folder in map(Path, glob.glob(pattern)):
            with contextlib.suppress(OSError):
                held[folder.parent.name] = (folder / RECEIPT_FILE).read_bytes()
        return held

    def coordinated_students(self) -> set[str] | None:
        student = self.coursedir.student_id
        return None if student in ("", "*") else {student}


class ExchangeReleaseFeedback(Exchange, abc.ExchangeReleaseFeedback):
    def init_src(self):
        self.course_path()
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                             self.coursedir.assignment_id)
        from glob import glob

        self.folders = sorted(Path(p) for p in glob(pattern) if Path(p).is_dir())

    def copy_files(self):
        aid = self.coursedir.assignment_id
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        for folder in self.folders:
            student = Path(os.path.relpath(folder, self.coursedir.root)).parts[1]
            if student in exclude:
                continue
            html = {p.name: p.read_bytes() for p in sorted(folder.glob("*.html"))}
            if not html:
                continue
            body = {"files": wire.encode_files(html)}
            if (folder / RECEIPT_FILE).is_file():
                body["receipt_id"] = json.loads((folder / RECEIPT_FILE).read_text())["receipt_id"]
            elif (folder / TIMESTAMP_FILE).is_file():
                body["submission_timestamp"] = (folder / TIMESTAMP_FILE).read_text().strip()
            else:
                self.log.error("%s: no receipt.json or timestamp.txt; which submission is it?",
                               folder)
                continue
            self.api("PUT", *self.course_path("feedback", aid, student), body=body)
            self.log.info("Releasing feedback for student '%s' on assignment '%s/%s'", student,
                          self.coursedir.course_id, aid)


class ExchangeFetchFeedback(Exchange, abc.ExchangeFetchFeedback):
    def init_dest(self):
        self.course_path()
        self.dest_path = self.local_dir(self.coursedir.course_id, self.coursedir.assignment_id)

    def copy_files(self):
        aid = self.coursedir.assignment_id
        params = {"assignment_id": aid} if aid else {}
        items = self.api("GET", *self.course_path("feedback"), params=params)["feedback"]
        if not items:
            self.log.warning("No feedback available for %s/%s", self.coursedir.course_id, aid)
        for item in items:
            folder = (self.local_dir(self.coursedir.course_id, item["assignment_id"]) / "feedback"
                      / item["timestamp"])
            self.write_folder(folder, wire.decode_files(item["files"]), replace=True)
            self.log.info("Fetched feedback: %s", folder)

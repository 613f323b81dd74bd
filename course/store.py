"""A course's shared files and gradebook as the exchange service serves them, without any HTTP.

The course folder is the service's own (no user server sees it):

    exchange/<course>/outbound/<assignment>/       released student versions (also what
                                                    ``course release`` writes through nbgrader)
    inbox/<assignment>/<student>/<received>/       every submission (``exchange.group_commit``;
                                                    ``course.inbox.receive`` for the CLI)
    exchange/<course>/feedback/<assignment>/<student>/<receipt id>/<released>/
                                                    returned feedback, every version kept
    exchange/<course>/.staging/                     folders being written; renamed into place

Everything becomes visible in one ``rename``. A ``CourseExchange`` is not thread-safe: the
service calls it from one worker thread.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from pathlib import Path, PurePosixPath

from .calendar import local_seconds, readable_local, span_text, utcnow
from .collect import collect, collected_files
from .errors import UserError
from .folders import swap_in
from .fresh_course import course_file_stamp
from .gradebook import Receipt
from .gradebook.records import (
    PairDeadline,
    get_receipt,
    pair_deadline,
    receipts_where,
    record_release,
)
from .inbox import (
    MAX_FILES,
    MAX_STORED_BYTES,
    MAX_SUBMISSION_BYTES,
    StagedHandIn,
    check_names,
    read_submission_folder,
    released_to_students,
    store,
)
from .policy import by_deadline
from .receipt_files import feedback_md5, format_timestamp
from .receipt_notice import receipt_notice
from .release import folder_checksum
from .roles import Role, roles_by_user
from .summaries import receive_summary
from .workspace import STAFF_ONLY_FOLDERS, Workspace, open_workspace

__all__ = ["MAX_ROW_ID", "Conflict", "CourseExchange", "Forbidden", "NotFound", "TooLarge",
           "row_id"]

MAX_FEEDBACK_BYTES = 50 * 1024 * 1024
MAX_RELEASE_BYTES = 200 * 1024 * 1024
# The largest id a gradebook row can have: its id columns are SQL INTEGER (four bytes in
# PostgreSQL). A larger number in a URL names no row; it is never sent to the database, where
# it would overflow (an error, and on PostgreSQL an aborted transaction) instead of not matching.
MAX_ROW_ID = 2**31 - 1


class Forbidden(Exception):
    """The user's role in the course does not allow this (HTTP 403)."""


class NotFound(LookupError):
    """No such course, assignment, submission or feedback for this user (HTTP 404)."""


class Conflict(Exception):
    """The action would replace something and was not asked to (HTTP 409)."""


class TooLarge(Exception):
    """An upload over its size limit (HTTP 413)."""


def _check_size(files: dict[str, bytes], limit: int, what: str) -> None:
    size = sum(len(content) for content in files.values())
    if size > limit:
        raise TooLarge(f"{what} of {size / 1e6:.1f} MB exceeds the limit of {limit / 1e6:.0f} MB")


def row_id(text: str) -> int | None:
    """The gradebook id a URL's digits name, or None where they can name no row: not plain
    ASCII digits, 0, or past ``MAX_ROW_ID`` (checked by length before any conversion, so a
    thousand-digit "id" costs nothing)."""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(MAX_ROW_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None


def _safe_files(files: dict[str, bytes]) -> dict[str, bytes]:
    return dict(zip(check_names(files), files.values(), strict=True))


def _top_notebooks(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.ipynb")) if folder.is_dir() else []


class CourseExchange:
    """One course's exchange: roles, releases, submissions, collection and feedback."""

    def __init__(self, course_file: Path | str, *, max_submission_bytes: int = MAX_SUBMISSION_BYTES,
                 max_stored_bytes: int = MAX_STORED_BYTES, max_files: int = MAX_FILES):
        self.course_file = Path(course_file)
        self.max_submission_bytes = max_submission_bytes
        self.max_stored_bytes = max_stored_bytes
        self.max_files = max_files
        self._stamp = None
        self.ws: Workspace | None = None
        self.gb = None
        self.refresh()

    # -- the course file, re-read when it changes (a roster edit needs no restart) ----------
    def refresh(self) -> None:
        """Read the course file again if it changed (``course_file_stamp``: any edit, however
        soon after the last). The stamp is taken before the file is parsed, so what is parsed
        is never older than the stamp says."""
        path = self.course_file if self.course_file.is_file() else self.course_file / "course.yml"
        stamp = course_file_stamp(path)
        if stamp == self._stamp:
            return
        ws = open_workspace(path)
        gb = ws.gradebook()
        if self.gb is not None:
            self.gb.close()
        self.ws, self.gb, self._stamp = ws, gb, stamp
        self._roles = roles_by_user(ws.course)

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()
            self.gb = None

    @property
    def course_id(self) -> str:
        return self.ws.course.id

    @property
    def _exchange(self) -> Path:
        return self.ws.root / "exchange" / self.course_id

    @property
    def _outbound(self) -> Path:
        return self._exchange / "outbound"

    def _staging(self) -> Path:
        staging = self._exchange / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        return staging

    # -- who is who -------------------------------------------------------------------------
    def role(self, user: str) -> Role | None:
        """``user``'s role in the course file as last read (``refresh``)."""
        return self._roles.get(user)

    # -- released assignments ---------------------------------------------------------------
    def _visible(self, assignment_id: str, role: Role, now: dt.datetime) -> bool:
        if role.staff:
            return (self._outbound / assignment_id).is_dir() and not assignment_id.startswith(".")
        return released_to_students(self.ws, assignment_id, now)  # as `course submit` asks

    def released(self, role: Role) -> list[dict]:
        now = utcnow()
        names = sorted(p.name for p in self._outbound.iterdir()) if self._outbound.is_dir() else []
        return [{"course_id": self.course_id, "assignment_id": name,
                 "notebooks": _top_notebooks(self._outbound / name)}
                for name in names if self._visible(name, role, now)]

    def released_files(self, assignment_id: str, role: Role) -> dict[str, bytes]:
        if not self._visible(assignment_id, role, utcnow()):
            raise NotFound(f"assignment {assignment_id!r} is not released in {self.course_id}")
        return read_submission_folder(self._outbound / assignment_id)

    def release(self, assignment_id: str, files: dict[str, bytes], *, by: str,
                force: bool = False) -> dict:
        self.ws.course.assignment(assignment_id)  # LookupError: unknown assignment
        files = _safe_files(files)
        leaked = sorted({PurePosixPath(n).parts[0] for n in files} & set(STAFF_ONLY_FOLDERS))
        if leaked:
            raise UserError(f"refusing a student version that contains {leaked}")
        if not any(name.endswith(".ipynb") for name in files):
            raise UserError(f"a release of {assignment_id!r} must contain a notebook (.ipynb)")
        _check_size(files, MAX_RELEASE_BYTES, "release")
        target = self._outbound / assignment_id
        if target.exists() and not force:
            raise Conflict(f"{assignment_id} is already released; release again with --force")
        staged = store(self._staging(), utcnow(), files)
        self._outbound.mkdir(parents=True, exist_ok=True)
        try:  # another exchange process may release it at the same moment
            swap_in(staged, target, replace=force, aside=self._staging(), linger=True)
        except FileExistsError:
            shutil.rmtree(staged, ignore_errors=True)
            raise Conflict(f"{assignment_id} is already released; release again with --force"
                           ) from None
        row = record_release(self.gb, assignment_id, folder_checksum(target), now=utcnow(), by=by)
        self.gb.commit()
        return {"assignment_id": assignment_id, "checksum": row.checksum,
                "notebooks": _top_notebooks(target)}

    def unrelease(self, assignment_id: str) -> None:
        target = self._outbound / assignment_id
        if assignment_id.startswith(".") or not target.is_dir():
            raise NotFound(f"assignment {assignment_id!r} is not released in {self.course_id}")
        gone = self._staging() / f"{assignment_id}.removed-{secrets.token_hex(4)}"
        target.rename(gone)
        shutil.rmtree(gone, ignore_errors=True)

    # -- submissions ------------------------------------------------------------------------
    def receipts(self, *, student_id: str | None = None,
                 assignment_id: str | None = None) -> list[Receipt]:
        return receipts_where(self.gb, student_id=student_id, assignment_id=assignment_id)

    def receipt(self, receipt_id: int) -> Receipt:
        in_range = (isinstance(receipt_id, int) and not isinstance(receipt_id, bool)
                    and 1 <= receipt_id <= MAX_ROW_ID)
        row = get_receipt(self.gb, receipt_id) if in_range else None
        if row is None:
            raise NotFound(f"no submission {receipt_id}")
        return row

    def describe(self, receipt: Receipt, *, feedback: bool = True,
                 pair: PairDeadline | None = None, notebooks: list[str] | None = None) -> dict:
        """A submission as the client lists it: receipt, notebooks, returned feedback's MD5s.
        ``pair``: its student's deadlines, ``notebooks``: its notebooks' names, when the caller
        knows them already (``reply``)."""
        if notebooks is None:
            notebooks = _top_notebooks(self.ws.root / receipt.storage_path)
        info = {"course_id": self.course_id, "student_id": receipt.student_id,
                "assignment_id": receipt.assignment_id, "receipt_id": receipt.id,
                "timestamp": format_timestamp(receipt.received_at),
                "received_utc": receipt.received_at.isoformat(), "sha256": receipt.sha256,
                "size_bytes": receipt.size_bytes, "client_timestamp": receipt.client_timestamp,
                "notebooks": notebooks}
        info.update(self.judged(receipt, pair))
        if feedback:
            files = self.feedback_files(receipt)
            info["feedback"] = {name: feedback_md5(content) for name, content in files.items()}
        return info

    def reply(self, receipt: Receipt, staged: StagedHandIn | None = None) -> dict:
        """A hand-in's reply: the receipt judged (its time in the course's zone, in time or
        late) and its notice, from one reading of the student's deadlines. ``staged``: the
        hand-in as it was received just now (its notebooks and earlier submissions known);
        None for a receipt stored before (a retry's)."""
        pair = pair_deadline(self.gb, self.ws.course, receipt.student_id, receipt.assignment_id)
        notebooks, earlier = (staged.notebooks, staged.earlier) if staged else (None, None)
        return {**self.describe(receipt, feedback=False, pair=pair, notebooks=notebooks),
                "notice": receipt_notice(self.ws, self.gb, receipt, pair, earlier)}

    def judged(self, receipt: Receipt, pair: PairDeadline | None = None) -> dict:
        """A receipt as its student reads it: the time in the course's zone to the second
        (``received_local``), the deadline they work to (their extension's end when later, moved
        by the late days they asked for) and ``verdict``: "on time", "on time (extension)",
        "on time (late days)" or "late by 2 h 5 min", judged to the second as the policy judges
        it. Nothing for an assignment no longer in the course."""
        course, zone = self.ws.course, self.ws.course.zone
        if pair is None:
            try:
                pair = pair_deadline(self.gb, course, receipt.student_id, receipt.assignment_id)
            except (UserError, LookupError):
                return {"timezone": zone.key,
                        "received_local": local_seconds(receipt.received_at, zone)}
        received, deadline = receipt.received_at, pair.deadline
        if by_deadline(received, pair.due):
            verdict = "on time"
        elif by_deadline(received, pair.extended):
            verdict = "on time (extension)"
        elif by_deadline(received, deadline):
            verdict = "on time (late days)"
        else:
            verdict = f"late by {span_text(received.replace(microsecond=0) - deadline)}"
        return {"timezone": zone.key, "received_local": local_seconds(received, zone),
                "deadline": deadline.isoformat(), "deadline_local": readable_local(deadline, zone),
                "verdict": verdict}

    def notice(self, receipt: Receipt) -> str:
        """What the hand-in means under the course's policy, in one line (as `course submit`
        says it): in time or how late, and which submission counts."""
        return receipt_notice(self.ws, self.gb, receipt)

    def receipt_files(self, receipt: Receipt) -> dict[str, bytes]:
        return read_submission_folder(self.ws.root / receipt.storage_path)

    # -- collection -------------------------------------------------------------------------
    def collect(self, assignment_id: str) -> tuple[list[dict], list[dict]]:
        """course.collect (the submission that counts, into submitted/): what it wrote, and the
        students it could not collect, by name and why."""
        collected = []
        # a folder holding the receipt that counts is left as it is: two exchange processes
        # collecting at once, or a grader reading it, never see it rewritten under them
        result = collect(self.ws, assignment_id, only_stale=True)
        for item in sorted([*result, *result.unchanged], key=lambda c: c.student_id):
            receipt = self.receipt(item.receipt_id)  # the files from the (immutable) inbox
            collected.append({"student_id": item.student_id, "receipt_id": item.receipt_id,
                              "timestamp": format_timestamp(receipt.received_at),
                              "files": collected_files(self.ws, receipt)})
        failed = [{"student_id": f.student_id, "receipt_id": f.receipt_id, "error": f.reason}
                  for f in result.failed]
        return collected, failed

    # -- feedback ---------------------------------------------------------------------------
    def _feedback_parent(self, receipt: Receipt) -> Path:
        return (self._exchange / "feedback" / receipt.assignment_id / receipt.student_id
                / str(receipt.id))

    def find_receipt(self, student_id: str, assignment_id: str, *, receipt_id: int | None = None,
                     timestamp: str | None = None) -> Receipt:
        for row in self.receipts(student_id=student_id, assignment_id=assignment_id):
            if row.id == receipt_id or (receipt_id is None
                                        and format_timestamp(row.received_at) == timestamp):
                return row
        raise NotFound(f"no submission of {assignment_id} by {student_id} "
                       f"{'with receipt ' + str(receipt_id) if receipt_id else 'at ' + str(timestamp)}")

    def release_feedback(self, receipt: Receipt, files: dict[str, bytes]) -> dict:
        files = _safe_files(files)
        bad = [name for name in files if "/" in name or not name.endswith(".html")]
        if bad or not files:
            raise UserError(f"feedback is one or more .html files per notebook (got {bad or 'none'})")
        _check_size(files, MAX_FEEDBACK_BYTES, "feedback")
        store(self._feedback_parent(receipt), utcnow(), files)
        return {"receipt_id": receipt.id, "files": sorted(files)}

    def feedback_opening(self, receipt: Receipt, now: dt.datetime):
        """Whether the student may see the feedback on ``receipt`` at ``now`` (the course
        file's ``feedback: {when: ...}``: ``course.feedback_gate``); staff always may."""
        from .feedback_gate import feedback_open

        return feedback_open(self.ws.course, self.gb, receipt.student_id, receipt.assignment_id,
                             now)

    def feedback_files(self, receipt: Receipt) -> dict[str, bytes]:
        parent = self._feedback_parent(receipt)
        versions = sorted(p for p in parent.iterdir()
                          if p.is_dir() and not p.name.startswith(".")) if parent.is_dir() else []
        return read_submission_folder(versions[-1]) if versions else {}

    def feedback_returned_at(self, receipt: Receipt) -> dt.datetime | None:
        """When feedback on ``receipt`` was last returned (its newest version's name, as
        ``inbox.store`` stamps it), or None if never."""
        parent = self._feedback_parent(receipt)
        names = sorted(p.name for p in parent.iterdir()
                       if p.is_dir() and not p.name.startswith(".")) if parent.is_dir() else []
        if not names:
            return None
        stamp = names[-1].partition("-")[0]
        return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)

    # -- session summaries ------------------------------------------------------------------
    def submit_summary(self, student_id: str, session: int, files: dict[str, bytes],
                       received_at: dt.datetime) -> dict:
        row = receive_summary(self.ws, self.gb, session, files, submitted_by=student_id,
                              received_at=received_at)
        return {"session": row.session, "authors": row.authors.split(),
                "timestamp": format_timestamp(row.received_at), "sha256": row.sha256}

"""Receiving submissions: the server's side of "submit".

Every submission is kept (history, not overwrite) under ``inbox/<assignment>/<student>/`` and
recorded in the gradebook with the receiving side's clock, its content hash and size. Whatever a
client says about time is stored for information only. A submission is a folder its committed
receipt names, and a receipt is committed only once its folder is on disk: a crash leaves at
most folders no receipt names, which nothing reads (``stage_hand_in``, ``make_durable``).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from .calendar import readable_local, utcnow
from .errors import UserError
from .folders import fsync_dir, write_folder, write_hidden_folder
from .gradebook import Gradebook, Receipt
from .gradebook.records import add_receipt
from .receipt_files import RECEIPT_FILE, TIMESTAMP_FILE
from .workspace import Workspace

__all__ = [
    "HOLD_TIMEOUT_S",
    "IDEMPOTENCY_HEADER",
    "MAX_DEPTH",
    "MAX_FILES",
    "MAX_NAME_CHARS",
    "MAX_STORED_BYTES",
    "MAX_SUBMISSION_BYTES",
    "BadFileName",
    "HandInLimits",
    "KeyReused",
    "NotReleased",
    "QuotaExceeded",
    "StagedHandIn",
    "StudentBusy",
    "SubmissionTooLarge",
    "TooManyFiles",
    "TooManySubmissions",
    "check_names",
    "check_notebooks",
    "check_released",
    "check_submission_count",
    "client_timestamp",
    "discard",
    "expected_notebooks",
    "hold_student",
    "make_durable",
    "notebook_problem",
    "read_submission_folder",
    "receive",
    "released_to_students",
    "stage_hand_in",
    "sync_file_system",
]

# the platform defaults for uploads; the exchange service's ``max_submission_bytes`` and
# ``max_stored_bytes`` (``course exchange serve --max-mb / --quota-mb``) set them for uploads
# through it
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
MAX_STORED_BYTES = 1024 * 1024 * 1024  # per student, all submissions kept (history) together
# an nbgrader assignment is a few notebooks and data files: these bound the per-file work one
# upload can cause (a 15,000-file upload once held the service for a minute)
MAX_FILES = 200
MAX_DEPTH = 6  # folders above a file: data/a/b/c/d/e/x.png
MAX_NAME_CHARS = 255  # of the whole relative name; one part is at most 255 bytes on disk
CLIENT_TIMESTAMP_FILE = TIMESTAMP_FILE  # the client's claim: kept, never trusted
# control characters (NUL among them, which PostgreSQL refuses in text) are dropped from it
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# a hand-in's idempotency key (the client's, one per hand-in, the same on every retry): a retry
# of a hand-in that was stored returns its receipt instead of storing it twice
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
# the longest a hand-in waits for another exchange process's hold on its student (a batch holds
# it for milliseconds; a stalled disk, or a peer cut off without closing its connection, which
# PostgreSQL notices only when TCP gives up, could hold it for minutes)
HOLD_TIMEOUT_S = 10.0


def client_timestamp(content: bytes) -> str | None:
    """The client's ``timestamp.txt`` as kept on the receipt: text, no control characters (a
    NUL would make the gradebook refuse the row), at most 64 characters; None if empty."""
    return _CONTROL.sub("", content.decode(errors="replace")).strip()[:64] or None


class BadFileName(UserError):
    """A file name the platform cannot or will not store (HTTP 400)."""


class TooManyFiles(UserError):
    """More files or deeper folders than an assignment has (HTTP 400)."""


class NotReleased(UserError):
    """An assignment students cannot see yet, so cannot hand in (HTTP 404 from the exchange)."""


class QuotaExceeded(UserError):
    """The student's stored submissions would pass the per-student quota (HTTP 413)."""


class SubmissionTooLarge(UserError):
    """A hand-in over the size limit (HTTP 413 from the exchange)."""


class KeyReused(UserError):
    """An idempotency key of this student's that already names a different hand-in."""


class StudentBusy(UserError):
    """Another exchange process held the student's hand-ins past ``HOLD_TIMEOUT_S``: nothing
    was stored, and sending it again is safe (HTTP 503 from the exchange: its client retries)."""


class TooManySubmissions(UserError):
    """The student has handed in an assignment as often as ``policy.max_submissions`` allows."""


@dataclass(frozen=True)
class KeptSubmissions:
    """A student's kept submissions as a hand-in's checks need them (the count per assignment,
    the bytes held, the idempotency keys used), read in one query (``kept_submissions``)."""

    rows: list  # (id, assignment_id, storage_path, size_bytes, received_at), every assignment

    def count(self, assignment_id: str) -> int:
        return sum(1 for row in self.rows if row.assignment_id == assignment_id)

    def times(self, assignment_id: str) -> tuple[dt.datetime, ...]:
        """When each kept submission of ``assignment_id`` arrived."""
        return tuple(row.received_at for row in self.rows if row.assignment_id == assignment_id)

    def stored_bytes(self) -> int:
        return sum(row.size_bytes for row in self.rows)

    def keyed(self, assignment_id: str, tag: str) -> int | None:
        """The receipt id of the hand-in ``tag`` (``key_tag``) names, if it was stored."""
        return next((row.id for row in self.rows if row.assignment_id == assignment_id
                     and row.storage_path.endswith(f"-{tag}")), None)


_KEPT = select(Receipt.id, Receipt.assignment_id, Receipt.storage_path, Receipt.size_bytes,
               Receipt.received_at).where(
    Receipt.student_id == bindparam("student"))  # built once: every hand-in asks


def kept_submissions(gb: Gradebook, student_id: str) -> KeptSubmissions:
    """``student_id``'s kept submissions, this transaction's rows included (flushed)."""
    # on the session's connection (Core): the ORM's result handling cost more than the query
    return KeptSubmissions(list(gb.session.connection().execute(_KEPT, {"student": student_id})))


def check_submission_count(ws: Workspace, gb: Gradebook, student_id: str,
                           assignment_id: str, kept: KeptSubmissions | None = None) -> None:
    """Refuse a hand-in past the assignment's ``max_submissions``, else the course's
    ``policy.max_submissions`` (``TooManySubmissions``): every kept submission of the
    assignment counts, in time or not. ``kept``: the student's, when read already."""
    limit, key = ws.course.submission_limit(assignment_id)
    if limit is None:
        return
    count = (kept or kept_submissions(gb, student_id)).count(assignment_id)
    if count >= limit:
        raise TooManySubmissions(
            f"{student_id} has handed in {assignment_id} {count} time{'s' if count != 1 else ''}"
            f", the most this course accepts ({key}: {limit}); this submission "
            "is refused and the ones kept still count")


def safe_name(name: str) -> str:
    if not isinstance(name, str) or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise BadFileName(f"refusing file name {name!r}: control characters (NUL, newline, ...) "
                          "cannot be in a file name")
    if len(name) > MAX_NAME_CHARS or any(len(part.encode()) > 255 for part in name.split("/")):
        raise BadFileName(f"refusing file name {name[:40]!r}... ({len(name)} characters): names "
                          f"are at most {MAX_NAME_CHARS} characters")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name.startswith("."):
        raise BadFileName(f"refusing file name {name!r} in a submission")
    return path.as_posix()


def check_names(names, *, max_files: int = MAX_FILES) -> list[str]:
    """The safe names of an upload's files, refusing what collection or grading could not take:
    too many files, folders nested too deep, and the files the platform writes beside a
    collected submission (``receipt.json``; ``timestamp.txt`` only as a folder: as a file it is
    the client's claim, kept for information)."""
    names = list(names)
    if len(names) > max_files:
        raise TooManyFiles(f"{len(names)} files in one upload; at most {max_files} are accepted "
                           "(an assignment is a few notebooks and data files: zip the rest)")
    safe = [safe_name(name) for name in names]
    for name in safe:
        parts = PurePosixPath(name).parts
        if len(parts) - 1 > MAX_DEPTH:
            raise TooManyFiles(f"{name[:60]!r} is nested {len(parts) - 1} folders deep; at most "
                               f"{MAX_DEPTH} are accepted")
        if parts[0] == RECEIPT_FILE or (parts[0] == TIMESTAMP_FILE and len(parts) > 1):
            raise BadFileName(f"refusing {name!r}: {parts[0]} is written by the platform when "
                              "your submission is collected; rename it")
    return safe


def released_to_students(ws: Workspace, assignment_id: str, now: dt.datetime) -> bool:
    """Whether students see ``assignment_id`` at ``now``, and so may hand it in: it is an
    assignment of the course file, its student version is in the exchange's outbound folder
    (``course release`` or a release through the exchange put it there) and its ``release:``
    time, if it has one, has come. The one rule for listing, fetching and accepting hand-ins:
    the exchange and ``course submit`` both ask it."""
    try:
        assignment = ws.course.assignment(assignment_id)
    except LookupError:
        return False  # released by hand for an assignment the course file does not list
    outbound = ws.root / "exchange" / ws.course.id / "outbound" / assignment_id
    if assignment_id.startswith(".") or not outbound.is_dir():
        return False
    return assignment.release is None or assignment.release <= now


def check_released(ws: Workspace, assignment_id: str, now: dt.datetime) -> None:
    """Refuse a hand-in of an assignment students cannot see at ``now`` (``NotReleased``)."""
    if released_to_students(ws, assignment_id, now):
        return
    release = ws.course.assignment(assignment_id).release  # LookupError: unknown assignment
    if release is not None and release > now:
        when = f"until {readable_local(release, ws.course.zone)} (its release: time)"
    else:
        when = f"until it is released (course release {assignment_id})"
    raise NotReleased(f"{assignment_id} is not released yet: it cannot be handed in {when}")


def check_handed_out(ws: Workspace, assignment_id: str, now: dt.datetime) -> None:
    """Refuse to collect, grade or return feedback on an assignment students cannot see at
    ``now`` and nobody handed in (``NotReleased``): "not released", not "0 of 0"."""
    if released_to_students(ws, assignment_id, now):
        return
    release = ws.course.assignment(assignment_id).release  # LookupError: unknown assignment
    with ws.gradebook() as gb:
        if gb.session.scalars(select(Receipt.id).where(Receipt.assignment_id == assignment_id)
                              .limit(1)).first() is not None:
            return  # handed in all the same (before the exchange's rule): the work is there
    if release is not None and release > now:
        when = f"its release: {readable_local(release, ws.course.zone)}"
    else:
        when = f"course release {assignment_id}"
    raise NotReleased(f"{assignment_id} is not released ({when}): nothing was handed in")


def expected_notebooks(ws: Workspace, assignment_id: str) -> list[str]:
    """The notebook names of an assignment (its source's top-level notebooks; the student
    version keeps them), or [] when the source folder is not on this host."""
    return sorted(path.name for path in (ws.source / assignment_id).glob("*.ipynb"))


def notebook_problem(name: str, content: bytes) -> str | None:
    """``autograder.notebooks.notebook_problem``, imported when first needed: nbformat takes
    about a second to import, and reading the course's standing never needs it."""
    from autograder.notebooks import notebook_problem as problem

    return problem(name, content)


def check_notebooks(files: dict[str, bytes], assignment_id: str, expected: list[str]) -> None:
    """Refuse a submission the grader could not read: a renamed, missing or damaged notebook.
    Said at submit time, while the student can still fix it before the deadline."""
    top = sorted(name for name in files if name.endswith(".ipynb") and "/" not in name)
    if expected:
        strangers = [name for name in top if name not in expected]
        if strangers:
            raise UserError(
                f"{', '.join(strangers)}: not a notebook of {assignment_id}; hand in "
                f"{' and '.join(expected)} under exactly that name (rename the file and submit again)")
        if not top:
            raise UserError(f"a submission of {assignment_id!r} must contain a notebook "
                            f"({' and '.join(expected)})")
    elif not any(name.endswith(".ipynb") for name in files):
        raise UserError(f"a submission of {assignment_id!r} must contain a notebook (.ipynb)")
    for name in top:
        problem = notebook_problem(name, files[name])
        if problem:
            raise UserError(f"{problem}: fix or re-download it and submit again")


def read_submission_folder(folder: Path) -> dict[str, bytes]:
    """The files of a student's working folder, as a submission (checkpoints left out)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path.read_bytes()
    return files


def digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


_LIBC = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None


def sync_file_system(folder: Path) -> None:
    """One flush of the file system holding ``folder`` (Linux ``syncfs``; ``sync`` elsewhere):
    one wait for the disk per submission, however many files it holds."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        syncfs = getattr(_LIBC, "syncfs", None)
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def store(parent: Path, received_at: dt.datetime, files: dict[str, bytes]) -> Path:
    """Write ``files`` into a new folder under ``parent``, on disk and visible only once
    complete: written under a hidden name, flushed once, then renamed into place (summaries,
    released and feedback folders: nothing names them but their place)."""
    name = f"{received_at:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"
    staged = write_folder(parent / f".{name}.staged", files)
    sync_file_system(staged)
    final = staged.rename(parent / name)
    fsync_dir(parent)
    return final


def check_key(key: str | None) -> str | None:
    """A client's idempotency key as sent (16 to 64 of ``A-Za-z0-9_-``), or None for none."""
    if key is None:
        return None
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise UserError(f"the {IDEMPOTENCY_HEADER} header is 16 to 64 letters, digits, '-' or "
                        "'_' (a new random one per hand-in, the same on each retry)")
    return key


def key_tag(student_id: str, assignment_id: str, key: str) -> str:
    """What a keyed hand-in's stored folder name ends with: the key of this student and this
    assignment, hashed (24 hex digits; an unkeyed folder ends with 8). Another student's key
    names nothing of this student's."""
    return hashlib.sha256(f"{student_id}\0{assignment_id}\0{key}".encode()).hexdigest()[:24]


def hold_student(gb: Gradebook, student_id: str) -> None:
    """Until this transaction ends, no other exchange process receives from ``student_id``:
    the submission count, the quota and the idempotency key are checked and the receipt added
    as one step (PostgreSQL's advisory lock, released at commit or rollback, and by the server
    when a process dies). SQLite: one exchange process, whose store thread already serializes.
    Waits at most ``HOLD_TIMEOUT_S`` for another process's hold (``StudentBusy``; the transaction
    must then be rolled back), and so does every other lock of this transaction."""
    if gb.session.get_bind().dialect.name != "postgresql":
        return
    number = int.from_bytes(hashlib.sha256(f"receive\0{student_id}".encode()).digest()[:8],
                            "big", signed=True)
    gb.session.execute(text(f"SET LOCAL lock_timeout = {max(1, round(HOLD_TIMEOUT_S * 1000))}"))
    try:
        gb.session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise StudentBusy(f"another exchange process has held {student_id}'s hand-ins for "
                          f"{HOLD_TIMEOUT_S:g} s (a stalled disk or process?): nothing was stored; "
                          "submit again") from exc


def _remove_unrecorded(parent: Path, tag: str) -> None:
    """Visible folders of a keyed hand-in that no receipt names: an attempt that died between
    publishing and committing (under ``hold_student`` no live one can be there). Its retry
    stores it again, so the hand-in is on disk once. Hidden staged ones nothing reads."""
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:  # the student's first hand-in of the assignment
        return
    for entry in entries:
        if entry.name.endswith(f"-{tag}") and not entry.name.startswith("."):
            shutil.rmtree(entry.path, ignore_errors=True)


def _replayed(earlier: Receipt, sha256: str, assignment_id: str) -> Receipt:
    if earlier.sha256 != sha256:
        raise KeyReused(f"this {IDEMPOTENCY_HEADER} already names another hand-in of "
                        f"{assignment_id} (receipt {earlier.id}): send a new key per hand-in")
    return earlier  # a retry of a hand-in that was stored: its receipt, once


def _replay_under_hold(gb: Gradebook, kept: KeptSubmissions, parent: Path, assignment_id: str,
                      tag: str, sha256: str) -> Receipt | None:
    """Under ``hold_student``: the receipt of the keyed hand-in ``tag`` names if it was
    stored already (a retry: nothing more to store; ``KeyReused`` for other content under the
    key), else None, and no visible folder of an attempt that died before its commit is left.
    ``kept``: the student's kept submissions, read under the hold."""
    earlier = kept.keyed(assignment_id, tag)
    if earlier is not None:
        return _replayed(gb.session.get(Receipt, earlier), sha256, assignment_id)
    _remove_unrecorded(parent, tag)
    return None


def check_quota(student_id: str, kept: int, size: int, max_stored_bytes: int) -> None:
    """Refuse a hand-in of ``size`` bytes that would take the student's kept ``kept`` bytes
    past ``max_stored_bytes`` (``QuotaExceeded``)."""
    if kept + size > max_stored_bytes:
        raise QuotaExceeded(
            f"{student_id}'s kept submissions hold {kept / 1e6:.1f} MB; this one ({size / 1e6:.1f}"
            f" MB) would pass the per-student quota of {max_stored_bytes / 1e6:.0f} MB: ask an "
            "instructor to raise it (course exchange serve --quota-mb)")


@dataclass(frozen=True)
class HandInLimits:
    """What one hand-in may be: at most ``max_bytes`` and ``max_files``, and the student's kept
    submissions at most ``max_stored_bytes`` with it. The exchange passes its own
    (``course exchange serve --max-mb / --quota-mb``); the defaults are the platform's."""

    max_bytes: int = MAX_SUBMISSION_BYTES
    max_stored_bytes: int = MAX_STORED_BYTES
    max_files: int = MAX_FILES


@dataclass(frozen=True)
class StagedHandIn:
    """A hand-in checked, its files written under a hidden name (not yet flushed) and its
    receipt row added to the open transaction (not committed): ``make_durable`` then the
    commit make it a submission. ``notebooks`` and ``earlier`` (when the student's other
    submissions of the assignment arrived) are what its reply says, known already."""

    staged: Path
    final: Path
    receipt: Receipt
    notebooks: list[str]
    earlier: tuple[dt.datetime, ...]


def stage_hand_in(ws: Workspace, gb: Gradebook, student_id: str, assignment_id: str,
                  files: dict[str, bytes], *, received_at: dt.datetime, key: str | None = None,
                  limits: HandInLimits = HandInLimits()) -> StagedHandIn | Receipt:
    """Every check of a hand-in, in one place (the exchange's group commit and ``receive``
    both call it), under ``hold_student``: roster, assignment, idempotency key, names and
    sizes, submission count, notebooks, quota; then its files written under a hidden name and
    its receipt row added. A retry of a keyed hand-in stored already returns that receipt
    instead (nothing written). Raises what refuses it (``UserError``s, ``LookupError``); its
    own folder is gone then. Whether students may hand it in yet (``check_released``) is the
    caller's rule: the exchange's and ``course submit``'s, not a recorded week's."""
    ws.course.student(student_id)
    ws.course.assignment(assignment_id)
    key = check_key(key)
    files = dict(zip(check_names(files, max_files=limits.max_files), files.values(),
                     strict=True))
    stamp = client_timestamp(files.pop(CLIENT_TIMESTAMP_FILE, b""))
    size = sum(len(content) for content in files.values())
    if size > limits.max_bytes:
        raise SubmissionTooLarge(f"submission of {size / 1e6:.1f} MB exceeds the limit of "
                                 f"{limits.max_bytes / 1e6:.0f} MB")
    sha256 = digest(files)
    parent = ws.root / "inbox" / assignment_id / student_id
    tag = key_tag(student_id, assignment_id, key) if key else None
    kept = kept_submissions(gb, student_id)  # this transaction's rows too, under the hold
    if tag:
        earlier = _replay_under_hold(gb, kept, parent, assignment_id, tag, sha256)
        if earlier is not None:  # a retry, or the same hand-in twice in one batch
            return earlier
    check_submission_count(ws, gb, student_id, assignment_id, kept)
    check_notebooks(files, assignment_id, expected_notebooks(ws, assignment_id))
    check_quota(student_id, kept.stored_bytes(), size, limits.max_stored_bytes)
    name = f"{received_at:%Y%m%dT%H%M%S%fZ}-{tag or secrets.token_hex(4)}"
    staged = write_hidden_folder(parent / f".{name}.staged", files)
    try:
        receipt = add_receipt(gb, student_id=student_id, assignment_id=assignment_id,
                                 received_at=received_at, sha256=sha256, size_bytes=size,
                                 storage_path=(parent / name).relative_to(ws.root).as_posix(),
                                 client_timestamp=stamp)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    notebooks = sorted(name[:-len(".ipynb")] for name in files
                       if name.endswith(".ipynb") and "/" not in name)
    return StagedHandIn(staged, parent / name, receipt, notebooks,
                        kept.times(assignment_id))


def make_durable(ws: Workspace, staged: list[StagedHandIn]) -> None:
    """``staged`` hand-ins renamed into place and on disk, files and names, with one flush of
    the file system (one wait for the disk however many hand-ins and files): their receipts
    may then be committed. A folder is visible before the flush, but only a committed receipt
    makes it a submission (collection, grading and the dashboard read the folders receipts
    name), so a crash before the commit leaves folders nothing reads: a keyed retry removes
    its own (``_replay_under_hold``)."""
    for item in staged:
        item.staged.rename(item.final)
    sync_file_system(ws.root / "inbox")


def discard(staged: list[StagedHandIn], *, keep_placed: bool = False) -> None:
    """Remove the folders of hand-ins whose receipts were not committed. ``keep_placed``: the
    commit was sent and may have reached the server, so the renamed folders stay (a receipt
    may name them; a folder no receipt names is harmless, a receipt naming none is not)."""
    for item in staged:
        shutil.rmtree(item.staged, ignore_errors=True)
        if not keep_placed:
            shutil.rmtree(item.final, ignore_errors=True)


def receive(ws: Workspace, gb: Gradebook, student_id: str, assignment_id: str,
            files: dict[str, bytes], *, received_at: dt.datetime | None = None,
            max_bytes: int = MAX_SUBMISSION_BYTES, max_stored_bytes: int = MAX_STORED_BYTES,
            max_files: int = MAX_FILES, key: str | None = None) -> Receipt:
    """Store one submission and record its receipt; returns the committed Receipt: the
    exchange's group commit for a batch of one (``stage_hand_in``, ``make_durable``, commit).

    ``received_at`` defaults to this process's clock now. The exchange service passes its own clock
    reading from when the upload finished (so a queue at the deadline cannot make an on-time upload
    late); the demo and tests pass recorded times. A client's claim never reaches it.
    ``max_bytes`` is the largest submission accepted, ``max_stored_bytes`` what one student's
    kept submissions may hold together, ``max_files`` the most files in one. ``key``: the
    client's idempotency key (``IDEMPOTENCY_HEADER``): a hand-in this student already handed
    in under it (same assignment, same content) returns that receipt and stores nothing; other
    content under it is refused (``KeyReused``). Safe with several exchange processes on one
    PostgreSQL gradebook (``hold_student``).
    """
    limits = HandInLimits(max_bytes, max_stored_bytes, max_files)
    staged, committing = [], False
    try:
        hold_student(gb, student_id)  # until the commit: a few milliseconds
        result = stage_hand_in(ws, gb, student_id, assignment_id, files, key=key,
                               received_at=received_at or utcnow(), limits=limits)
        if isinstance(result, Receipt):  # a retry: nothing more to store
            gb.commit()  # ends the read, and the hold
            return result
        staged.append(result)
        make_durable(ws, staged)
        committing = True
        gb.commit()
        return result.receipt
    except BaseException:
        gb.session.rollback()  # ends the transaction, and with it the hold on the student
        discard(staged, keep_placed=committing)
        raise

"""Group commit of hand-ins: the hand-ins that arrive together share one flush of the disk and
one gradebook transaction, and each is acknowledged only once it is durable.

A hand-in on its own costs two waits for the disk (its files, its folder's rename) and a
third for the gradebook's commit, all on the course's store thread: at a deadline these waits,
not the CPU, bound how many hand-ins a second one exchange takes. ``GroupCommit`` queues the
hand-ins of one course; whenever the store thread is free it takes all that are waiting (at
most ``MAX_BATCH``) and runs them as one job (``commit_batch``):

1. each is checked as ``course.inbox.receive`` checks it (roster, release, names, size,
   notebooks, submission count, quota; a failure refuses that hand-in alone), its files written
   under a hidden ``.staged`` name and its receipt row added (flushed, not committed: the
   count and quota checks of the next one see it). On PostgreSQL each hand-in's rows are
   added under a savepoint, so a row the database refuses (``DataError``, ``IntegrityError``)
   refuses that hand-in alone, not the batch;
2. one ``syncfs`` (the files of all of them), the renames into place, one more ``syncfs`` (the
   renames), one commit of the gradebook;
3. then, and only then, each gets its receipt. If the process dies anywhere before the commit,
   nobody was acknowledged: what is on disk is staged folders or complete folders no receipt
   names, which nothing reads (as with a single hand-in). If step 2 fails, the transaction is
   rolled back and every hand-in in it refused (the client retries); the batch's folders are
   removed unless the commit was already sent (it may have reached the server: a folder no
   receipt names is harmless, a receipt naming no folder is not).

The work stays on the store thread (one gradebook session, as before), so the receipt time,
taken when the upload's last byte arrived, is unchanged by the wait. A hand-in with an
``Idempotency-Key`` (the platform's client sends one with every hand-in) is looked up under the
batch's hold on its student: a retry of one stored already, or the same hand-in twice in one
batch, gets the first one's receipt once that is durable, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import shutil
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DataError, IntegrityError

from course.errors import UserError
from course.folders import write_hidden_folder
from course.gradebook import Receipt
from course.gradebook.records import add_receipt
from course.inbox import (
    CLIENT_TIMESTAMP_FILE,
    KeyReused,
    check_key,
    check_names,
    check_notebooks,
    check_quota,
    check_submission_count,
    client_timestamp,
    digest,
    expected_notebooks,
    hold_student,
    kept_submissions,
    key_tag,
    released_to_students,
    replay_under_hold,
    sync_file_system,
)
from course.store import Conflict, CourseExchange, Forbidden, NotFound, TooLarge

__all__ = ["MAX_BATCH", "GroupCommit", "HandIn", "commit_batch"]

MAX_BATCH = 64  # bounds one job's time on the store thread (and a batch's loss to an I/O error)
# what refuses one hand-in alone; anything else may have broken the session: the batch is refused
_ITEM_ERRORS = (UserError, LookupError, Forbidden, Conflict, TooLarge, ValueError, OSError,
                DataError, IntegrityError)


@dataclass
class HandIn:
    """One upload waiting for its receipt. ``check(ex)`` raises if the user may no longer hand
    in (the roster as the store sees it now)."""

    student_id: str
    assignment_id: str
    files: dict[str, bytes]
    received_at: dt.datetime
    check: Callable[[CourseExchange], None] = lambda ex: None
    key: str | None = None  # the client's idempotency key: a retry gets its first receipt
    future: asyncio.Future | None = field(default=None, repr=False)


@dataclass
class _Staged:
    index: int
    staged: Path
    final: Path
    receipt: object  # the flushed Receipt row


def _stage(ex: CourseExchange, item: HandIn) -> tuple[Path, Path, object] | Receipt:
    """``item`` checked, its files written under a hidden name (not yet flushed to disk) and its
    receipt row added to the open transaction; or, for a retry of a keyed hand-in stored
    already, that receipt (nothing written). Raises what refuses it (``NotFound``: not released;
    ``TooLarge``; ``Conflict``: a key reused; ``UserError``, ``LookupError``: the checks)."""
    ws, gb = ex.ws, ex.gb
    student, assignment, received_at = item.student_id, item.assignment_id, item.received_at
    ws.course.assignment(assignment)
    if not released_to_students(ws, assignment, received_at):
        raise NotFound(f"assignment {assignment!r} is not released in {ex.course_id}")
    size = sum(len(content) for content in item.files.values())
    if size > ex.max_submission_bytes:
        raise TooLarge(f"submission of {size / 1e6:.1f} MB exceeds the limit of "
                       f"{ex.max_submission_bytes / 1e6:.0f} MB")
    ws.course.student(student)
    key = check_key(item.key)
    files = dict(zip(check_names(item.files, max_files=ex.max_files), item.files.values(),
                     strict=True))
    stamp = client_timestamp(files.pop(CLIENT_TIMESTAMP_FILE, b""))
    size, sha256 = sum(len(content) for content in files.values()), digest(files)
    parent = ws.root / "inbox" / assignment / student
    tag = key_tag(student, assignment, key) if key else None
    kept = kept_submissions(gb, student)  # this batch's rows too (flushed), under its hold
    if tag:
        try:
            earlier = replay_under_hold(gb, kept, parent, assignment, tag, sha256)
        except KeyReused as exc:
            raise Conflict(str(exc)) from None
        if earlier is not None:  # a retry (or the same hand-in twice in this batch)
            return earlier
    check_submission_count(ws, gb, student, assignment, kept)
    check_notebooks(files, assignment, expected_notebooks(ws, assignment))
    check_quota(student, kept.stored_bytes(), size, ex.max_stored_bytes)
    name = f"{received_at:%Y%m%dT%H%M%S%fZ}-{tag or secrets.token_hex(4)}"
    staged = write_hidden_folder(parent / f".{name}.staged", files)
    try:
        receipt = add_receipt(gb, student_id=student, assignment_id=assignment,
                              received_at=received_at, sha256=sha256, size_bytes=size,
                              storage_path=(parent / name).relative_to(ws.root).as_posix(),
                              client_timestamp=stamp)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged, parent / name, receipt


def _savepoint(ex: CourseExchange) -> AbstractContextManager:
    """One hand-in's database work, undone alone if the database refuses it. PostgreSQL only:
    pysqlite opens no transaction before the first write, so there the first SAVEPOINT would be
    the outermost and its release would commit that receipt before its folder is in place."""
    session = ex.gb.session
    postgres = session.get_bind().dialect.name == "postgresql"
    return session.begin_nested() if postgres else nullcontext()


def _make_durable(ex: CourseExchange, staged: list[_Staged]) -> None:
    inbox = ex.ws.root / "inbox"
    sync_file_system(inbox)  # every staged file of the batch: one wait for the disk
    for item in staged:
        item.staged.rename(item.final)
    sync_file_system(inbox)  # the renames (syncfs writes the directories too)


def commit_batch(ex: CourseExchange, batch: list[HandIn]) -> list[object]:
    """Receive ``batch`` with one flush and one commit (on the course's store thread); returns,
    in order, each hand-in's reply (``CourseExchange.reply``) or the exception that refused it."""
    outcomes: list[object] = [None] * len(batch)
    staged: list[_Staged] = []
    try:  # no other exchange process receives from these students until this batch ends
        for student in sorted({item.student_id for item in batch}):  # sorted: no deadlock
            hold_student(ex.gb, student)
    except Exception as exc:  # noqa: BLE001 - the session may be broken: all are refused
        return _abort(ex, staged, outcomes, exc)
    replays: list[tuple[int, Receipt]] = []  # keyed retries: their first receipt, once durable
    for index, item in enumerate(batch):
        try:
            item.check(ex)
            with _savepoint(ex):  # a row the database refuses: rolled back to here
                result = _stage(ex, item)
            if isinstance(result, Receipt):
                replays.append((index, result))
            else:
                staged.append(_Staged(index, *result))
        except _ITEM_ERRORS as exc:
            outcomes[index] = exc  # this hand-in alone (its staged folder is gone)
        except Exception as exc:  # noqa: BLE001 - the session may be broken: all are refused
            return _abort(ex, staged, outcomes, exc)
    if not staged:
        ex.gb.session.rollback()  # ends the transaction, and with it the holds
        return _replied(ex, replays, outcomes)
    try:
        _make_durable(ex, staged)
    except Exception as exc:  # noqa: BLE001 - nothing committed: every hand-in is refused
        return _abort(ex, staged, outcomes, exc)
    try:
        ex.gb.commit()  # one transaction: every receipt of the batch, or none
    except Exception as exc:  # noqa: BLE001 - not known committed: every hand-in is refused
        return _abort(ex, staged, outcomes, exc, keep_folders=True)  # it may have reached it
    return _replied(ex, [*((item.index, item.receipt) for item in staged), *replays], outcomes)


def _replied(ex: CourseExchange, receipts: list[tuple[int, Receipt]],
             outcomes: list[object]) -> list[object]:
    """``outcomes`` with each committed receipt's reply in its place."""
    for index, receipt in receipts:
        try:
            outcomes[index] = ex.reply(receipt)
        except Exception as exc:  # noqa: BLE001 - committed all the same; it is listed
            outcomes[index] = exc
    return outcomes


def _abort(ex: CourseExchange, staged: list[_Staged], outcomes: list[object],
           exc: Exception, *, keep_folders: bool = False) -> list[object]:
    """Roll the batch back: no receipt, no folder; every hand-in not refused already is refused
    with ``exc`` (the client retries). ``keep_folders``: the commit was sent and may have
    reached the server, so the placed folders stay (a receipt may name them)."""
    ex.gb.session.rollback()
    for item in staged:
        shutil.rmtree(item.staged, ignore_errors=True)
        if not keep_folders:
            shutil.rmtree(item.final, ignore_errors=True)
        outcomes[item.index] = None
    return [exc if outcome is None else outcome for outcome in outcomes]


class GroupCommit:
    """One course's queue of hand-ins. ``run(func)`` runs ``func(exchange)`` on the course's
    store thread (``ExchangeService.call``)."""

    def __init__(self, run: Callable[[Callable], Awaitable], *, max_batch: int = MAX_BATCH):
        self.run, self.max_batch = run, max_batch
        self._waiting: list[HandIn] = []
        self._draining = False
        self.batches: list[int] = []  # the size of each batch committed (for the benchmark)

    async def submit(self, item: HandIn) -> dict:
        """``item``'s reply once its receipt is committed and its files on disk; raises what
        refused it."""
        loop = asyncio.get_running_loop()
        item.future = loop.create_future()
        self._waiting.append(item)
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await item.future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]
                try:
                    outcomes = await self.run(lambda ex, b=batch: commit_batch(ex, b))
                except Exception as exc:  # noqa: BLE001 - each waiting request gets it
                    outcomes = [exc] * len(batch)
                self.batches.append(len(batch))
                for item, outcome in zip(batch, outcomes, strict=True):
                    if item.future.done():  # the request went away meanwhile
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)
        finally:
            self._draining = False

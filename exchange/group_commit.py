"""Group commit of hand-ins: the hand-ins that arrive together share one flush of the disk and
one gradebook transaction, and each is acknowledged only once it is durable.

A hand-in on its own costs a wait for the disk (its files and its folder's name) and another
for the gradebook's commit, all on the course's store thread: at a deadline these waits, not
the CPU, bound how many hand-ins a second one exchange takes. ``GroupCommit`` queues the
hand-ins of one course; whenever the store thread is free it takes all that are waiting (at
most ``MAX_BATCH``) and runs them as one job (``commit_batch``), ``course.inbox.receive``'s
steps for many at once:

1. each is checked and staged (``course.inbox.stage_hand_in``: release, roster, names, size,
   notebooks, submission count, quota; a failure refuses that hand-in alone), its files written
   under a hidden ``.staged`` name and its receipt row added (not committed: the count and
   quota checks of the next one see it). On PostgreSQL each hand-in's rows are added under a
   savepoint, so a row the database refuses (``DataError``, ``IntegrityError``) refuses that
   hand-in alone, not the batch;
2. the renames into place and one ``syncfs`` for all of them (``course.inbox.make_durable``),
   then one commit of the gradebook;
3. then, and only then, each gets its receipt. If the process dies anywhere before the commit,
   nobody was acknowledged: what is on disk is folders no receipt names, which nothing reads.
   If step 2 fails, the transaction is rolled back and every hand-in in it refused (the client
   retries); the batch's folders are removed unless the commit was already sent (it may have
   reached the server: a folder no receipt names is harmless, a receipt naming no folder is
   not).

The work stays on the store thread (one gradebook session, as before), so the receipt time,
taken when the upload's last byte arrived, is unchanged by the wait. A hand-in with an
``Idempotency-Key`` (the platform's client sends one with every hand-in) is looked up under the
batch's hold on its student: a retry of one stored already, or the same hand-in twice in one
batch, gets the first one's receipt once that is durable, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError, IntegrityError

from course.errors import UserError
from course.gradebook import Receipt
from course.inbox import (
    HandInLimits,
    StagedHandIn,
    check_released,
    discard,
    hold_student,
    make_durable,
    stage_hand_in,
)
from course.store import CourseExchange, Forbidden

__all__ = ["MAX_BATCH", "GroupCommit", "HandIn", "commit_batch"]

MAX_BATCH = 64  # bounds one job's time on the store thread (and a batch's loss to an I/O error)
# what refuses one hand-in alone; anything else may have broken the session: the batch is refused
_ITEM_ERRORS = (UserError, LookupError, Forbidden, ValueError, OSError, DataError,
                IntegrityError)


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


def _stage(ex: CourseExchange, item: HandIn) -> StagedHandIn | Receipt:
    """``course.inbox.stage_hand_in`` under the exchange's limits, for an assignment students
    may hand in at the upload's receipt time (``NotReleased``, a 404, otherwise)."""
    check_released(ex.ws, item.assignment_id, item.received_at)
    limits = HandInLimits(ex.max_submission_bytes, ex.max_stored_bytes, ex.max_files)
    return stage_hand_in(ex.ws, ex.gb, item.student_id, item.assignment_id, item.files,
                         received_at=item.received_at, key=item.key, limits=limits)


def _savepoint(ex: CourseExchange) -> AbstractContextManager:
    """One hand-in's database work, undone alone if the database refuses it. PostgreSQL only:
    pysqlite opens no transaction before the first write, so there the first SAVEPOINT would be
    the outermost and its release would commit that receipt before its folder is in place."""
    session = ex.gb.session
    postgres = session.get_bind().dialect.name == "postgresql"
    return session.begin_nested() if postgres else nullcontext()


def commit_batch(ex: CourseExchange, batch: list[HandIn]) -> list[object]:
    """Receive ``batch`` with one flush and one commit (on the course's store thread); returns,
    in order, each hand-in's reply (``CourseExchange.reply``) or the exception that refused it."""
    outcomes: list[object] = [None] * len(batch)
    staged: list[tuple[int, StagedHandIn]] = []
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
                staged.append((index, result))
        except _ITEM_ERRORS as exc:
            outcomes[index] = exc  # this hand-in alone (its staged folder is gone)
        except Exception as exc:  # noqa: BLE001 - the session may be broken: all are refused
            return _abort(ex, staged, outcomes, exc)
    if not staged:
        ex.gb.session.rollback()  # ends the transaction, and with it the holds
        return _replied(ex, [(index, receipt, None) for index, receipt in replays], outcomes)
    try:
        make_durable(ex.ws, [item for _, item in staged])
    except Exception as exc:  # noqa: BLE001 - nothing committed: every hand-in is refused
        return _abort(ex, staged, outcomes, exc)
    try:
        ex.gb.commit()  # one transaction: every receipt of the batch, or none
    except Exception as exc:  # noqa: BLE001 - not known committed: every hand-in is refused
        return _abort(ex, staged, outcomes, exc, keep_placed=True)  # it may have reached it
    return _replied(ex, [*((index, item.receipt, item) for index, item in staged),
                         *((index, receipt, None) for index, receipt in replays)], outcomes)


def _replied(ex: CourseExchange, receipts: list[tuple[int, Receipt, StagedHandIn | None]],
             outcomes: list[object]) -> list[object]:
    """``outcomes`` with each committed receipt's reply in its place."""
    for index, receipt, staged in receipts:
        try:
            outcomes[index] = ex.reply(receipt, staged)
        except Exception as exc:  # noqa: BLE001 - committed all the same; it is listed
            outcomes[index] = exc
    return outcomes


def _abort(ex: CourseExchange, staged: list[tuple[int, StagedHandIn]], outcomes: list[object],
           exc: Exception, *, keep_placed: bool = False) -> list[object]:
    """Roll the batch back: no receipt, no folder; every hand-in not refused already is refused
    with ``exc`` (the client retries). ``keep_placed``: the commit was sent and may have
    reached the server, so the placed folders stay (a receipt may name them)."""
    ex.gb.session.rollback()
    discard([item for _, item in staged], keep_placed=keep_placed)
    for index, _ in staged:
        outcomes[index] = None
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

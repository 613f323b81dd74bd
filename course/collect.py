"""Collect: put each student's submission that counts into nbgrader's ``submitted/`` folder.

The submission that counts is the one the policy judges (``policy.pick_receipt``): the latest one
received by the student's deadline (``policy.student_deadline``: extension and late days asked
for included), else the latest one at all. nbgrader's ``timestamp.txt`` is written from the
receipt, so nbgrader's late-penalty plugins see server time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .calendar import iso_utc
from .folders import swap_in
from .gradebook import Receipt
from .gradebook.records import gather_facts, receipts_for
from .inbox import read_submission_folder, sync_file_system
from .policy import pick_receipt, student_deadline
from .receipt_files import RECEIPT_FILE, TIMESTAMP_FILE, format_timestamp, read_receipt_id
from .workspace import Workspace

__all__ = [
    "RECEIPT_FILE",
    "CollectFailure",
    "Collected",
    "Collection",
    "collect",
    "collected_files",
    "collected_receipt_id",
    "counting_receipts",
]


@dataclass(frozen=True)
class Collected:
    student_id: str
    receipt_id: int
    received_utc: str


@dataclass(frozen=True)
class CollectFailure:
    """A student whose submission could not be collected, and why (the others were)."""

    student_id: str
    receipt_id: int
    reason: str

    def __str__(self) -> str:
        return f"{self.student_id} (receipt {self.receipt_id}): {self.reason}"


@dataclass(frozen=True)
class Collection:
    """What one collect did: iterating it gives the collected submissions; ``failed`` names the
    students whose stored submission could not be copied, so one bad folder blocks nobody else."""

    collected: list[Collected] = field(default_factory=list)
    failed: list[CollectFailure] = field(default_factory=list)
    unchanged: list[Collected] = field(default_factory=list)  # only_stale: already there

    def __iter__(self):
        return iter(self.collected)

    def __len__(self) -> int:
        return len(self.collected)


def counting_receipts(ws: Workspace, gb, assignment_id: str) -> dict[str, Receipt]:
    """Each student's receipt that counts (``policy.pick_receipt``; the newest of equal times)."""
    facts = gather_facts(gb, ws.course)
    by_student: dict[str, list[Receipt]] = {}
    for receipt in receipts_for(gb, assignment_id):
        by_student.setdefault(receipt.student_id, []).append(receipt)
    chosen = {}
    for student_id, receipts in sorted(by_student.items()):
        deadline = student_deadline(ws.course, facts, student_id, assignment_id)
        moment = pick_receipt([r.received_at for r in receipts], deadline)
        chosen[student_id] = max((r for r in receipts if r.received_at == moment),
                                 key=lambda r: r.id)
    return chosen


def collected_receipt_id(folder: Path) -> int | None:
    """Which receipt a collected folder holds (None: not collected by us, or unreadable)."""
    return read_receipt_id(folder)


def _receipt_files(receipt: Receipt) -> dict[str, bytes]:
    """The two files collect writes beside a submission: nbgrader's timestamp and the receipt."""
    return {TIMESTAMP_FILE: format_timestamp(receipt.received_at).encode(),
            RECEIPT_FILE: json.dumps({"receipt_id": receipt.id, "sha256": receipt.sha256,
                                      "received_utc": iso_utc(receipt.received_at)}).encode()}


def collected_files(ws: Workspace, receipt: Receipt) -> dict[str, bytes]:
    """What collecting ``receipt`` writes into ``submitted/`` (hidden names left out), read
    from its stored submission, which never changes once stored."""
    return {**read_submission_folder(ws.root / receipt.storage_path), **_receipt_files(receipt)}


def _copy(ws: Workspace, assignment_id: str, receipt: Receipt) -> None:
    """Copy the stored submission under a staging name of its own (two exchange processes may
    collect one course at once), flush it, and swap it into place (``folders.swap_in``)."""
    target = ws.root / "submitted" / receipt.student_id / assignment_id
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment_id}.", suffix=".collecting",
                                    dir=target.parent))
    try:
        shutil.copytree(ws.root / receipt.storage_path, staging, dirs_exist_ok=True)
        for name, content in _receipt_files(receipt).items():
            (staging / name).write_bytes(content)
        staging.chmod(0o755)
        sync_file_system(staging)
        swap_in(staging, target, linger=True)  # a grader may be reading the one it replaces
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def collect(ws: Workspace, assignment_id: str, *,
            students: list[str] | None = None, only_stale: bool = False) -> Collection:
    """Copy each student's submission that counts (or only ``students``') into ``submitted/``.
    ``only_stale``: skip folders that already hold the receipt that counts. A submission that
    cannot be copied (a folder stored before the reserved names were refused, a disk error) is
    reported in ``failed`` and the others are collected."""
    ws.course.assignment(assignment_id)
    with ws.gradebook() as gb:
        chosen = counting_receipts(ws, gb, assignment_id)
    result = Collection()
    for student_id, receipt in chosen.items():
        if students is not None and student_id not in students:
            continue
        folder = ws.root / "submitted" / student_id / assignment_id
        if only_stale and collected_receipt_id(folder) == receipt.id:
            result.unchanged.append(Collected(student_id, receipt.id,
                                              iso_utc(receipt.received_at)))
            continue
        try:
            _copy(ws, assignment_id, receipt)
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc.strerror or exc} ({Path(exc.filename or '').name})"
            result.failed.append(CollectFailure(student_id, receipt.id, reason))
            continue
        result.collected.append(Collected(student_id, receipt.id, iso_utc(receipt.received_at)))
    return result

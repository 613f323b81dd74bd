"""Collect: put each student's submission that counts into nbgrader's ``submitted/`` folder.

The submission that counts is the one the policy judges (``policy.pick_receipt``): the latest one
received by the student's effective deadline, else the latest one at all. nbgrader's
``timestamp.txt`` is written from the receipt, so nbgrader's late-penalty plugins see server time.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from .calendar import iso_utc
from .gradebook.records import gather_facts, receipts_for
from .policy import pick_receipt
from .workspace import Workspace

__all__ = ["RECEIPT_FILE", "Collected", "collect"]

RECEIPT_FILE = "receipt.json"  # which receipt a collected folder holds, for the grading run


@dataclass(frozen=True)
class Collected:
    student_id: str
    receipt_id: int
    received_utc: str


def collect(ws: Workspace, assignment_id: str) -> list[Collected]:
    ws.course.assignment(assignment_id)
    due = ws.course.due(assignment_id)
    collected = []
    with ws.gradebook() as gb:
        extensions = gather_facts(gb, ws.course).extensions
        by_student: dict[str, list] = {}
        for receipt in receipts_for(gb, assignment_id):
            by_student.setdefault(receipt.student_id, []).append(receipt)
    for student_id, receipts in sorted(by_student.items()):
        deadline = max(due, extensions.get((student_id, assignment_id), due))
        chosen_time = pick_receipt([r.received_at for r in receipts], deadline)
        receipt = max((r for r in receipts if r.received_at == chosen_time), key=lambda r: r.id)
        target = ws.root / "submitted" / student_id / assignment_id
        staging = target.with_name(f".{assignment_id}.collecting")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(ws.root / receipt.storage_path, staging)
        (staging / "timestamp.txt").write_text(
            receipt.received_at.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        )
        (staging / RECEIPT_FILE).write_text(
            json.dumps({"receipt_id": receipt.id, "sha256": receipt.sha256,
                        "received_utc": iso_utc(receipt.received_at)})
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        collected.append(Collected(student_id, receipt.id, iso_utc(receipt.received_at)))
    return collected

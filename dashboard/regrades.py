"""What the pages show of regrade requests (``course.regrades``): a student's requests with
their answers and the assignments they may still ask about; an assignment's open requests for
staff, each with what the assignment counts now (an accepted score is final: no late penalty is
taken off it) and whether this person may accept. Plain data, rendered by
``templates/_regrades.html``."""

from __future__ import annotations

import datetime as dt

from course.calendar import span_text
from course.regrades import (
    FINAL,
    MAX_REASON_CHARS,
    OPEN,
    may_accept,
    open_windows,
    requests_of,
    score_now,
)
from course.workspace import Workspace

__all__ = ["assignment_regrades", "student_regrades"]


def _row(row, standing: dict | None) -> dict:
    counts = score_now(standing, row.student_id, row.assignment_id) \
        if standing is not None and row.state == OPEN else None
    return {"id": row.id, "student": row.student_id, "assignment": row.assignment_id,
            "item": row.item, "reason": row.reason, "filed_by": row.filed_by,
            "filed_at": row.filed_at, "state": row.state, "answer": row.answer,
            "answered_by": row.answered_by, "answered_at": row.answered_at,
            "counts_now": counts}


def _staff(ws: Workspace, role: str | None) -> dict:
    return {"regrade_may_accept": may_accept(ws.course, role), "regrade_final": FINAL}


def student_regrades(ws: Workspace, student_id: str, now: dt.datetime, *, staff: bool,
                     role: str | None = None, standing: dict | None = None) -> dict:
    """One student's requests as filed by ``now`` (and, on their own page, where they may ask;
    on staff's, with ``standing``: what each open one's assignment counts now)."""
    if ws.course.policy.regrade_requests is None:
        return {"regrades_on": False}
    rows = [_row(r, standing if staff else None) for r in requests_of(ws, student_id=student_id)
            if r.filed_at <= now]
    return {"regrades_on": True, "regrades": rows, "regrade_max_chars": MAX_REASON_CHARS,
            "regrade_until": span_text(ws.course.policy.regrade_requests.until),
            "regrade_windows": [] if staff else open_windows(ws, student_id, now),
            **(_staff(ws, role) if staff else {})}


def assignment_regrades(ws: Workspace, assignment_id: str, *, role: str | None = None,
                        standing: dict | None = None) -> dict:
    """The assignment's requests not answered yet, oldest first: what staff have to answer."""
    if ws.course.policy.regrade_requests is None:
        return {"regrades_on": False}
    return {"regrades_on": True, "regrade_max_chars": MAX_REASON_CHARS,
            "regrades": [_row(r, standing) for r in requests_of(
                ws, assignment_id=assignment_id, open_only=True)], **_staff(ws, role)}

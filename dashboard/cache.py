"""The standing, judged again only when something it is judged from may have changed.

``course status`` judges the whole course each time (a quarter of a second for 500 students x 12
assignments); the dashboard's pages are opened far more often than the gradebook changes. The
standing document is kept with what it was judged from and reused while all of this holds:

- the course file is unchanged (``course.fresh_course.course_file_stamp``: its inode, size,
  modification time and content hash, so an edit in the same clock tick as the last counts);
- the gradebook's fingerprint is unchanged: row counts, newest ids and times, and the counts of
  revoked, cleared, withdrawn and absent rows of every table the policy reads, and the count and
  sums of nbgrader's grades (hand grading in the formgrader changes them);
- no deadline, extended deadline, release or the withdrawal day's end has passed since;
- it is younger than ``max_age`` seconds: a bound on any change the fingerprint cannot see
  (two hand-grading edits whose sums cancel out).
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import case, column, func, select, table

from course.calendar import iso_utc
from course.fresh_course import course_file_stamp
from course.gradebook.models import (
    Excuse,
    Extension,
    GradingRun,
    LateDayRequest,
    Presentation,
    Receipt,
    Release,
    ScoreOverride,
)
from course.standing import standing_data
from course.workspace import Workspace

__all__ = ["StandingCache", "fingerprint", "next_change"]

_grade = table("grade", column("auto_score"), column("manual_score"), column("extra_credit"))


def fingerprint(gb) -> tuple:
    """Aggregates of every table the standing is judged from, in one round trip."""
    aggregates = {
        Receipt: [func.count(), func.max(Receipt.id)],
        Extension: [func.count(), func.max(Extension.id), func.count(Extension.revoked_at)],
        Excuse: [func.count(), func.max(Excuse.id), func.count(Excuse.revoked_at)],
        ScoreOverride: [func.count(), func.max(ScoreOverride.id),
                        func.count(ScoreOverride.cleared_at)],
        GradingRun: [func.count(), func.max(GradingRun.started_at),
                     func.max(GradingRun.finished_at),
                     func.sum(case((GradingRun.outcome == "success", 1), else_=0))],
        Release: [func.count(), func.max(Release.id)],
        LateDayRequest: [func.count(), func.max(LateDayRequest.id),
                         func.count(LateDayRequest.withdrawn_at)],
        Presentation: [func.count(), func.max(Presentation.id),
                       func.count(Presentation.withdrawn_at),
                       func.sum(case((Presentation.absent, 1), else_=0))],
        _grade: [func.count(), func.count(_grade.c.manual_score), func.sum(_grade.c.manual_score),
                 func.sum(_grade.c.auto_score), func.sum(_grade.c.extra_credit)],
    }
    columns = [select(aggregate).select_from(source).scalar_subquery()
               for source, row in aggregates.items() for aggregate in row]
    return tuple(gb.session.execute(select(*columns)).one())


def next_change(course, data: dict, now: dt.datetime) -> dt.datetime | None:
    """The first instant after ``now`` at which the same facts are judged differently: a
    deadline (extended or not) or a release passes, or the withdrawal day ends."""
    from course.policy import withdrawal_ends

    instants = [course.due(a.id) for a in course.assignments]
    instants += [a.release for a in course.assignments if a.release is not None]
    instants.append(withdrawal_ends(course))
    for student in data["students"]:
        for entry in student["assignments"].values():
            due = dt.datetime.fromisoformat(entry["effective_due_utc"])
            instants.append(due)
            if entry.get("late_days"):  # late days asked for move the deadline
                instants.append(due + dt.timedelta(days=entry["late_days"]))
    later = [moment for moment in instants if moment > now]
    return min(later) if later else None


class StandingCache:
    def __init__(self, max_age: float = 60.0):
        self.max_age = dt.timedelta(seconds=max_age)
        self._lock = threading.Lock()
        self._key = self._data = self._since = self._until = None
        self.hits = self.misses = 0

    def get(self, ws: Workspace, now: dt.datetime) -> dict:
        """``standing_data(ws, now)``, reused when nothing it depends on changed."""
        with ws.gradebook() as gb:
            key = (course_file_stamp(ws.course_file), fingerprint(gb))
        with self._lock:
            fresh = (self._key == key and self._since <= now < self._since + self.max_age
                     and (self._until is None or now < self._until))
            if fresh:
                self.hits += 1
                return {**self._data, "as_of_utc": iso_utc(now)}
        data = standing_data(ws, now)
        with self._lock:
            self.misses += 1
            self._key, self._data, self._since = key, data, now
            self._until = next_change(ws.course, data, now)
        return data

    def clear(self) -> None:
        with self._lock:
            self._key = None

"""Our tables, next to nbgrader's in the same database: what nbgrader's schema lacks.

Rows refer to students and assignments by their ids (strings) rather than by foreign keys into
nbgrader's tables, so neither schema's migrations depend on the other's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Excuse",
    "Extension",
    "GradingRun",
    "Presentation",
    "Receipt",
    "Release",
    "RosterEvent",
    "ScoreOverride",
    "SessionSummary",
    "SummaryRota",
    "SyncState",
]

UTC = dt.UTC


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: store instants as aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def _id() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True, autoincrement=True)


class Receipt(Base):
    """One submission as the server received it. Never updated: re-submitting adds a row."""

    __tablename__ = "course_receipt"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_path: Mapped[str] = mapped_column(Text, doc="folder of the stored files, course-relative")
    client_timestamp: Mapped[str | None] = mapped_column(String(64), doc="what the client claimed")


class Extension(Base):
    """A per-student deadline; the most recently granted one for a pair that is not revoked is
    in force. Revoking keeps the row (``revoked_*``)."""

    __tablename__ = "course_extension"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class Excuse(Base):
    """An instructor's excuse (illness, ...): the assignment does not count as a miss, unless
    the excuse is revoked (the row is kept, ``revoked_*`` set)."""

    __tablename__ = "course_excuse"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class GradingRun(Base):
    """One attempt to grade one collected submission, successful or not."""

    __tablename__ = "course_grading_run"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    receipt_id: Mapped[int | None] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(64))
    grader_version: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), doc="running | success | error")
    message: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)


class Release(Base):
    """When an assignment's student version was published, and by whom."""

    __tablename__ = "course_release"
    id: Mapped[int] = _id()
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str] = mapped_column(String(128))
    checksum: Mapped[str] = mapped_column(String(64), doc="sha256 over the released files")


class Presentation(Base):
    """One student drawn to present an assignment in class. Absentees stay on record (marked),
    and the replacements drawn for them get a later ``draw_round``. A withdrawn draw
    (``course draw --undo``) stays on record too, with ``withdrawn_*`` set, and counts nowhere."""

    __tablename__ = "course_presentation"
    id: Mapped[int] = _id()
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    draw_round: Mapped[int] = mapped_column(Integer, doc="0: the draw; 1, 2, ...: replacements")
    seed: Mapped[str] = mapped_column(String(64), doc="with the history, reproduces the pick")
    drawn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    drawn_by: Mapped[str] = mapped_column(String(128))
    absent: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)


class RosterEvent(Base):
    """A change to the course file's roster made by ``course``, kept for the audit
    (the course file itself keeps no history)."""

    __tablename__ = "course_roster_change"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(16), doc="drop")
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


class ScoreOverride(Base):
    """A score an instructor set by hand for a student's assignment, replacing the graded one
    whatever submission counts. Clearing keeps the row (``cleared_*``); at most one per pair is
    not cleared."""

    __tablename__ = "course_score_override"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float, doc="none: the graded max_score")
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(128))
    clear_reason: Mapped[str | None] = mapped_column(Text)


class SessionSummary(Base):
    """A session summary as handed in. Never updated: the latest one per session is published."""

    __tablename__ = "course_summary"
    id: Mapped[int] = _id()
    session: Mapped[int] = mapped_column(Integer, index=True, doc="1-based session number")
    authors: Mapped[str] = mapped_column(Text, doc="space-separated student ids")
    submitted_by: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(Text, doc="folder of the stored files, course-relative")


class SummaryRota(Base):
    """Who writes a session's summary, as announced (``announce``: the rota as first shown or
    published) and as changed since (``refill``: a vacated slot refilled; ``pin``, ``swap``: by
    hand). Never updated: the latest row per session counts, the others are its history."""

    __tablename__ = "course_summary_rota"
    id: Mapped[int] = _id()
    session: Mapped[int] = mapped_column(Integer, index=True, doc="1-based session number")
    authors: Mapped[str] = mapped_column(Text, doc="space-separated student ids")
    action: Mapped[str] = mapped_column(String(16), doc="announce | refill | pin | swap")
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


class SyncState(Base):
    """What was last written from the course file into nbgrader's tables (its students, the
    assignments with their deadlines), as a digest: the write is redone only when it changes."""

    __tablename__ = "course_sync"
    target: Mapped[str] = mapped_column(String(32), primary_key=True, doc="nbgrader")
    digest: Mapped[str] = mapped_column(String(64), doc="sha256 of what was written")
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

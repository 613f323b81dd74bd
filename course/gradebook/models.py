"""Our tables, next to nbgrader's in the same database: what nbgrader's schema lacks.

Rows refer to students and assignments by their ids (strings) rather than by foreign keys into
nbgrader's tables, so neither schema's migrations depend on the other's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Excuse",
    "Extension",
    "GradingRun",
    "LateDayRequest",
    "LmsGradePush",
    "Presentation",
    "Receipt",
    "RegradeRequest",
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


class RegradeRequest(Base):
    """A student's request that one test or cell of an assignment be graded again, with a
    reason, and staff's answer: ``accepted`` (the new score is a score override, ``override_id``)
    or ``rejected`` (``answer`` says why). Answered rows are kept as they were answered."""

    __tablename__ = "course_regrade_request"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    item: Mapped[str] = mapped_column(String(256), doc="a test's name or a grade cell's id")
    reason: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(128))
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), doc="open | accepted | rejected")
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    override_id: Mapped[int | None] = mapped_column(Integer, doc="the override an accept set")
    # at most one open request per test: two filed at once cannot both land (both dialects)
    __table_args__ = (Index("ix_course_regrade_request_open", "student_id", "assignment_id",
                            "item", unique=True, sqlite_where=text("state = 'open'"),
                            postgresql_where=text("state = 'open'")),)


class LateDayRequest(Base):
    """Late days asked for on one assignment (``policy.late_days: {spend: on_request}``): its
    deadline moves ``days`` whole days later, spent from the student's budget. Withdrawing (only
    before the deadline passes) or asking again keeps the row (``withdrawn_*``); at most one per
    pair is in force."""

    __tablename__ = "course_late_day_request"
    id: Mapped[int] = _id()
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    assignment_id: Mapped[str] = mapped_column(String(128), index=True)
    days: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(128), doc="the student, or staff for them")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    # at most one in force per pair: two asked for at once cannot both land (both dialects)
    __table_args__ = (Index("ix_course_late_day_request_in_force", "student_id",
                            "assignment_id", unique=True,
                            sqlite_where=text("withdrawn_at IS NULL"),
                            postgresql_where=text("withdrawn_at IS NULL")),)


class LmsGradePush(Base):
    """What was last sent to one platform's line item for one student over LTI (``course lti
    push``), and the failure of the last try, if it failed: one row per (platform, context,
    line item, student), updated in place. A push sends what differs from ``digest``, so a
    failure (``error`` set, ``digest`` still the last success's) is sent again next time."""

    __tablename__ = "course_lms_push"
    __table_args__ = (UniqueConstraint("platform", "client_id", "context_id", "resource_id",
                                       "student_id", name="uq_course_lms_push"),)
    id: Mapped[int] = _id()
    platform: Mapped[str] = mapped_column(String(512), doc="the platform's issuer")
    client_id: Mapped[str] = mapped_column(String(256))
    context_id: Mapped[str] = mapped_column(String(256))
    resource_id: Mapped[str] = mapped_column(String(256), doc="the line item's resourceId")
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    lms_user_id: Mapped[str] = mapped_column(String(256))
    line_item_url: Mapped[str] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(64), doc="sha256 of the score last sent")
    score_given: Mapped[float | None] = mapped_column(Float)
    pushed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text, doc="why the last try failed; none: it went")
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

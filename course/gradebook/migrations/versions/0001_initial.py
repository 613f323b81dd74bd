"""Receipts, extensions, excuses, grading runs, releases.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _pair():
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
    ]


def upgrade():
    op.create_table(
        "course_receipt",
        *_pair(),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("storage_path", sa.Text, nullable=False),
        sa.Column("client_timestamp", sa.String(64)),
    )
    for table in ("course_extension", "course_excuse"):
        extra = [sa.Column("until", UTCDateTime, nullable=False)] if table == "course_extension" else []
        op.create_table(
            table,
            *_pair(),
            *extra,
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("granted_by", sa.String(128), nullable=False),
            sa.Column("granted_at", UTCDateTime, nullable=False),
        )
    op.create_table(
        "course_grading_run",
        *_pair(),
        sa.Column("receipt_id", sa.Integer),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("grader_version", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
    )
    op.create_table(
        "course_release",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
        sa.Column("released_at", UTCDateTime, nullable=False),
        sa.Column("released_by", sa.String(128), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
    )


def downgrade():
    for table in ("course_release", "course_grading_run", "course_excuse", "course_extension",
                  "course_receipt"):
        op.drop_table(table)

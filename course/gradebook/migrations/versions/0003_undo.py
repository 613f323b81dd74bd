"""Undo with history: revoked extensions and excuses, withdrawn draws, roster changes, score
overrides.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REVOKED = ("revoked_at", "revoked_by", "revoke_reason")
WITHDRAWN = ("withdrawn_at", "withdrawn_by", "withdraw_reason")


def _who_when_why(names):
    at, by, why = names
    return [sa.Column(at, UTCDateTime), sa.Column(by, sa.String(128)), sa.Column(why, sa.Text)]


def upgrade():
    for table, names in (("course_extension", REVOKED), ("course_excuse", REVOKED),
                         ("course_presentation", WITHDRAWN)):
        with op.batch_alter_table(table) as batch:
            for column in _who_when_why(names):
                batch.add_column(column)
    op.create_table(
        "course_roster_change",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "course_score_override",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("max_score", sa.Float),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_at", UTCDateTime, nullable=False),
        *_who_when_why(("cleared_at", "cleared_by", "clear_reason")),
    )


def downgrade():
    op.drop_table("course_score_override")
    op.drop_table("course_roster_change")
    for table, names in (("course_presentation", WITHDRAWN), ("course_excuse", REVOKED),
                         ("course_extension", REVOKED)):
        with op.batch_alter_table(table) as batch:
            for name in reversed(names):
                batch.drop_column(name)

"""Regrade requests: a student's request for one test or cell with a reason, and staff's answer.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_regrade_request",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
        sa.Column("item", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("filed_by", sa.String(128), nullable=False),
        sa.Column("filed_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answered_by", sa.String(128)),
        sa.Column("answered_at", UTCDateTime),
        sa.Column("answer", sa.Text),
        sa.Column("override_id", sa.Integer),
    )
    # at most one open request per student, assignment and test (models.RegradeRequest)
    op.create_index("ix_course_regrade_request_open", "course_regrade_request",
                    ["student_id", "assignment_id", "item"], unique=True,
                    sqlite_where=sa.text("state = 'open'"),
                    postgresql_where=sa.text("state = 'open'"))


def downgrade():
    op.drop_table("course_regrade_request")

"""Late days a student asks to spend on one assignment (the late_days option, spent on request).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "course_late_day_request"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("withdrawn_at", UTCDateTime, nullable=True),
        sa.Column("withdrawn_by", sa.String(128), nullable=True),
        sa.Column("withdraw_reason", sa.Text, nullable=True),
    )
    # at most one request in force per pair (models.LateDayRequest)
    op.create_index("ix_course_late_day_request_in_force", TABLE,
                    ["student_id", "assignment_id"], unique=True,
                    sqlite_where=sa.text("withdrawn_at IS NULL"),
                    postgresql_where=sa.text("withdrawn_at IS NULL"))


def downgrade():
    op.drop_table(TABLE)

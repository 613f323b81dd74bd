"""LTI 1.3 grade pushes: what was last sent to each platform's line item for each student, and failures to retry.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_lms_push",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(512), nullable=False),
        sa.Column("client_id", sa.String(256), nullable=False),
        sa.Column("context_id", sa.String(256), nullable=False),
        sa.Column("resource_id", sa.String(256), nullable=False),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("lms_user_id", sa.String(256), nullable=False),
        sa.Column("line_item_url", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64)),
        sa.Column("score_given", sa.Float),
        sa.Column("pushed_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.Column("failed_at", UTCDateTime),
        sa.UniqueConstraint("platform", "client_id", "context_id", "resource_id", "student_id",
                            name="uq_course_lms_push"),
    )


def downgrade():
    op.drop_table("course_lms_push")

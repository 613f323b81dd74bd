"""What was last written into nbgrader's tables from the course file (a digest), so opening the
gradebook no longer rewrites the roster and deadlines every time.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_sync",
        sa.Column("target", sa.String(32), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("synced_at", UTCDateTime, nullable=False),
    )


def downgrade():
    op.drop_table("course_sync")

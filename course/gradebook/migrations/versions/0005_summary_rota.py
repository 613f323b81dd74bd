"""The announced summary rota and its changes (refills, pins, swaps), so that a roster change
refills a vacated slot instead of reshuffling every later session.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_summary_rota",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session", sa.Integer, nullable=False, index=True),
        sa.Column("authors", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("course_summary_rota")

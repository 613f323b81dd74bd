"""Presenter draws and session summaries.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from course.gradebook.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_presentation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.String(128), nullable=False, index=True),
        sa.Column("student_id", sa.String(128), nullable=False, index=True),
        sa.Column("draw_round", sa.Integer, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("drawn_at", UTCDateTime, nullable=False),
        sa.Column("drawn_by", sa.String(128), nullable=False),
        sa.Column("absent", sa.Boolean, nullable=False),
    )
    op.create_table(
        "course_summary",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session", sa.Integer, nullable=False, index=True),
        sa.Column("authors", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.String(128), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("course_summary")
    op.drop_table("course_presentation")

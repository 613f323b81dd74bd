"""Regrade requests: a student's request for one test or cell with a reason, and staff's answer.

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: the tables come with their feature


def downgrade():
    pass

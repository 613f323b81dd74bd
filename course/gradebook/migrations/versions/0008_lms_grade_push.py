"""LTI 1.3 grade pushes: what was last sent to each platform's line item for each student, and failures to retry.

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: the tables come with their feature


def downgrade():
    pass

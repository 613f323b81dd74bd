"""Late days a student asks to spend on one assignment (the late_days option, spent on request).

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: the tables come with their feature


def downgrade():
    pass

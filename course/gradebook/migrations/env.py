"""Alembic environment for our tables only; nbgrader keeps its own ``alembic_version`` table."""

from alembic import context

from course.gradebook import VERSION_TABLE
from course.gradebook.models import Base


def _ours(name, type_, *_args):
    # autogenerate must never propose dropping nbgrader's tables
    return type_ != "table" or name.startswith("course_")


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_name=_ours,
    render_as_batch=True,  # SQLite needs batch mode for ALTER
)
with context.begin_transaction():
    context.run_migrations()

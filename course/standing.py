"""The course's standing at one moment, gathered from the gradebook and judged by the policy:
what `course status`, the report and the demo print."""

from __future__ import annotations

import datetime as dt

__all__ = ["standing_data"]


def standing_data(ws, as_of: dt.datetime) -> dict:
    """The status document (``reports.status_data``) of every rostered student at ``as_of``."""
    from .gradebook.reading import gather_facts, open_reader, presentation_history
    from .policy import judge, release_warnings
    from .reports import status_data

    # plain SQL on a connection of its own: on SQLite neither SQLAlchemy nor its ORM is loaded
    with open_reader(ws.db_url, ws.course.id) as rows:
        facts = gather_facts(rows, ws.course)
        presented = presentation_history(rows)
    return status_data(ws.course, judge(ws.course, facts, as_of), as_of, presented=presented,
                       warnings=release_warnings(ws.course, facts.releases, as_of),
                       max_points=facts.max_points)

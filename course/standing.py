"""The course's standing at one moment, gathered from the gradebook and judged by the policy:
what `course status`, the report and the demo print."""

from __future__ import annotations

import datetime as dt

__all__ = ["standing_data"]


def standing_data(ws, as_of: dt.datetime) -> dict:
    """The status document (``reports.status_data``) of every rostered student at ``as_of``."""
    from .gradebook.records import gather_facts
    from .policy import judge, release_warnings
    from .presenters import presentation_history
    from .reports import status_data

    with ws.gradebook() as gb:
        facts = gather_facts(gb, ws.course)
        presented = presentation_history(gb)
    return status_data(ws.course, judge(ws.course, facts, as_of), as_of, presented=presented,
                       warnings=release_warnings(ws.course, facts.releases, as_of))

"""``late: accepted``: a late hand-in counts, marked late."""

from __future__ import annotations

import datetime as dt

from .base import LateRule

__all__ = ["Accepted"]


class Accepted(LateRule):
    name = "accepted"
    description = "a late hand-in counts, marked late (and graded like any other)"

    def counts_as_miss(self, late_by: dt.timedelta) -> bool:
        return False

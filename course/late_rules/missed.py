"""``late: missed`` (the default): a late hand-in counts as a missed assignment."""

from __future__ import annotations

import datetime as dt

from .base import LateRule

__all__ = ["Missed"]


class Missed(LateRule):
    name = "missed"
    description = "a late hand-in counts as a missed assignment"

    def counts_as_miss(self, late_by: dt.timedelta) -> bool:
        return True

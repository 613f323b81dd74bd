"""What a late rule decides: ``LateRule``, the base class of every rule."""

from __future__ import annotations

import datetime as dt

__all__ = ["LateRule"]


class LateRule:
    """What a late hand-in counts as. Late: the submission that counts was received after the
    student's effective deadline (their extension's, else the assignment's), judged to the
    whole second as every receipt is (``course.policy.by_deadline``).

    A rule sets ``name`` (the course file's ``policy: {late: NAME}``; also its entry point's name
    in the group ``dl_course.late_rules``) and ``description`` (one line), and overrides
    ``counts_as_miss``. ``notice`` is the clause the student's receipt notice gives for the
    decision; override it to say more. A rule is made without arguments (``late_rule``).
    """

    name = ""
    description = ""

    def counts_as_miss(self, late_by: dt.timedelta) -> bool:
        """Whether a hand-in ``late_by`` after the effective deadline (whole seconds, at least
        one) counts as a missed assignment; if not, it counts, marked late."""
        raise NotImplementedError

    def notice(self, miss: bool) -> str:
        """What the student reads about the decision ``miss`` (``counts_as_miss``'s answer)."""
        return ("late work counts as missed under this course's policy" if miss
                else "late work is accepted under this course's policy")

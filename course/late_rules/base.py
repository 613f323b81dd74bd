"""What a late rule decides: ``LateRule``, the base class of every rule, and ``LateDecision``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["LateDecision", "LateRule"]


@dataclass(frozen=True)
class LateDecision:
    """What a late hand-in counts as: a miss, or counted with ``penalty_percent`` of the points
    it earns taken off (0: counted whole, marked late). ``reason``: why, as the standing and the
    student read it ("late by 5 h: -10 %"); "" says nothing more than the rule's notice."""

    miss: bool
    penalty_percent: float = 0.0
    reason: str = ""


class LateRule:
    """What a late hand-in counts as. Late: the submission that counts was received after the
    student's effective deadline (their extension's, else the assignment's), judged to the
    whole second as every receipt is (``course.policy.by_deadline``).

    A rule sets ``name`` (the course file's ``policy: {late: NAME}``; also its entry point's name
    in the group ``dl_course.late_rules``) and ``description`` (one line), and overrides
    ``counts_as_miss`` (a miss or not), or ``decide`` for a richer answer (a penalty and its
    reason, ``LateDecision``); the policy and the receipt notice ask ``decide``, whose default
    asks ``counts_as_miss``. ``notice`` is the clause the student's receipt notice gives for a
    miss or not; ``notice_for`` the one for a whole decision (by default ``notice``).

    A rule with settings (``policy: {late: {rule: NAME, ...}}``) sets ``settings_model``, a
    pydantic model of the mapping (its ``rule`` key included) that the course file is checked
    against, error by error at their lines; it is then made with the validated settings
    (``late_rule``), else without arguments.
    """

    name = ""
    description = ""
    settings_model: ClassVar[type[BaseModel] | None] = None

    def __init__(self, settings: BaseModel | None = None):
        self.settings = settings

    def counts_as_miss(self, late_by: dt.timedelta) -> bool:
        """Whether a hand-in ``late_by`` after the effective deadline (whole seconds, at least
        one) counts as a missed assignment; if not, it counts, marked late."""
        raise NotImplementedError

    def decide(self, late_by: dt.timedelta) -> LateDecision:
        """What a hand-in ``late_by`` after the effective deadline counts as; by default a miss
        or not as ``counts_as_miss`` says, without a penalty."""
        return LateDecision(miss=self.counts_as_miss(late_by))

    def notice(self, miss: bool) -> str:
        """What the student reads about the decision ``miss`` (``counts_as_miss``'s answer)."""
        return ("late work counts as missed under this course's policy" if miss
                else "late work is accepted under this course's policy")

    def notice_for(self, decision: LateDecision) -> str:
        """What the student reads about ``decision`` (``decide``'s answer)."""
        return self.notice(decision.miss)

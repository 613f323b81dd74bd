"""Feedback levels: what a student sees of a failed hidden test (``show``) and when feedback
opens to them (``when``), per assignment, set in the course file::

    policy:
      feedback: {show: name, when: after_deadline}      # the course's
    assignments:
      - {id: week3, ..., feedback: {show: traceback}}   # one assignment's (``when`` stays)

Each key is resolved on its own: the assignment's, else the course's, else the platform's
default (``DEFAULT``: today's feedback, the message of a failed test, at once). A hidden grader
may set one test's level with ``@pytest.mark.feedback("nothing")``, which wins over both. The
levels' words are ``autograder.feedback_text``'s; the pages apply them
(``course.nbgrader_steps.ShowFeedbackLevels``), ``course.feedback_gate`` applies ``when``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from autograder.feedback_text import DEFAULT_LEVEL, LEVELS

from .calendar import readable_local

__all__ = ["DEFAULT", "TIMINGS", "FeedbackRule", "FeedbackSettings", "Opening",
           "feedback_opening", "feedback_rule"]

TIMINGS = ("at_once", "after_deadline", "after_hand_grading")


@dataclass(frozen=True)
class FeedbackRule:
    """One assignment's feedback, resolved: ``show`` a level of ``LEVELS``, ``when`` one of
    ``TIMINGS``."""

    show: str
    when: str


DEFAULT = FeedbackRule(DEFAULT_LEVEL, "at_once")  # the one place for the default


class FeedbackSettings(BaseModel):
    """``feedback: {show: ..., when: ...}`` in the course file (the policy's or an
    assignment's); a key left out is not set here."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    show: Literal[LEVELS] | None = Field(  # type: ignore[valid-type]
        None, description="what a student sees of a failed hidden test: nothing (that it failed "
        "and its points), name, message (the default) or traceback (never the test's source)")
    when: Literal[TIMINGS] | None = Field(  # type: ignore[valid-type]
        None, description="when feedback opens to a student: at_once (the default), "
        "after_deadline (their deadline, an extension's end included) or after_hand_grading")


def feedback_rule(course, assignment_id: str) -> FeedbackRule:
    """``assignment_id``'s rule in ``course`` (a ``coursefile.Course``), each key resolved on
    its own: the assignment's, the course's, the default."""
    own = course.assignment(assignment_id).feedback
    shared = course.policy.feedback
    return FeedbackRule(show=own.show or shared.show or DEFAULT.show,
                        when=own.when or shared.when or DEFAULT.when)


@dataclass(frozen=True)
class Opening:
    """Whether a student may see their feedback now, and if not, why (in words for them)."""

    open: bool
    reason: str = ""


def feedback_opening(rule: FeedbackRule, *, deadline: dt.datetime, hand_graded: bool,
                     now: dt.datetime, zone) -> Opening:
    """Whether feedback under ``rule`` is open at ``now`` to a student whose deadline (their
    extension's end included) is ``deadline`` and whose hand-in has (``hand_graded``) no cell
    left to grade by hand; ``zone``: the course's, for the reason's local time."""
    if rule.when == "after_deadline" and now < deadline:
        return Opening(False, "feedback opens after the deadline, "
                       f"{readable_local(deadline, zone)}")
    if rule.when == "after_hand_grading" and not hand_graded:
        return Opening(False, "feedback opens once grading by hand is done")
    return Opening(True)

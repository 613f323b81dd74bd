"""Whether a student may see their feedback on an assignment now (``when`` of the course file's
``feedback``, ``course.feedback_levels``), read from the gradebook: their deadline (an
extension's end and the late days asked for included: feedback seen before it would let a
fixed version count) and whether their hand-in still has cells to grade by hand.

Every place that hands feedback to a student asks here: ``course feedback`` holds it back, the
exchange's feedback listing (``nbgrader fetch_feedback``) and the dashboard leave it out, so a
student asking before its time gets none, however it was returned (the formgrader's button too).
Staff always see it.
"""

from __future__ import annotations

import datetime as dt

from .feedback_levels import Opening, feedback_opening, feedback_rule
from .gradebook.records import deadline_with_late_days

__all__ = ["feedback_open", "hand_grading_done"]


def hand_grading_done(gb, student_id: str, assignment_id: str) -> bool:
    """Whether nbgrader holds ``student_id``'s graded hand-in of ``assignment_id`` with no
    cell left to grade by hand (none to grade: done once autograded)."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.nb.find_submission(assignment_id, student_id)
    except MissingEntry:
        return False
    return not submission.needs_manual_grade


def feedback_open(course, gb, student_id: str, assignment_id: str,
                  now: dt.datetime) -> Opening:
    """Whether ``student_id``'s feedback on ``assignment_id`` is open at ``now``, and if not,
    why (``gb``: the course's ``Gradebook``)."""
    rule = feedback_rule(course, assignment_id)
    if rule.when == "at_once":
        return Opening(True)
    deadline = deadline_with_late_days(gb, course, student_id, assignment_id)
    done = rule.when == "after_hand_grading" and hand_grading_done(gb, student_id,
                                                                   assignment_id)
    return feedback_opening(rule, deadline=deadline, hand_graded=done, now=now,
                            zone=course.zone)

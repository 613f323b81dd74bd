"""The skeleton that ``course init`` writes: a course file that validates as it is."""

from __future__ import annotations

import datetime as dt

__all__ = ["grading_section", "skeleton_course_file"]


def _next(weekday: int, after: dt.date) -> dt.date:
    return after + dt.timedelta(days=(weekday - after.weekday()) % 7 or 7)


def grading_section(backend: str = "local", broker: str | None = None) -> str:
    """The skeleton's ``grading:``: ``celery`` for a stack (the hub's container has no sandbox,
    its fleet's workers have), with the broker only when given (else ``$COURSE_BROKER_URL``
    names it, kept out of a file that may be committed); ``local``: a comment saying when to
    switch."""
    if backend == "local":
        return ("# grading:\n"
                "#   backend: celery    # on a stack (deploy/README.md): graded by the fleet's "
                "workers (`course worker`), not here\n")
    lines = [f"grading:\n  backend: {backend}"
             + ("        # graded by the fleet's workers (`course worker`)"
                if backend == "celery" else "")]
    if broker:
        lines.append(f"  broker: {broker}")
    elif backend == "celery":
        lines.append("  # broker: amqp://user:pass@host/vhost   # else $COURSE_BROKER_URL")
    return "\n".join(lines) + "\n"


def skeleton_course_file(course_id: str, today: dt.date, *, backend: str = "local",
                         broker: str | None = None) -> str:
    first = _next(1, today)  # sessions on Tuesdays
    sessions = "\n".join(
        f"  - date: {first + dt.timedelta(weeks=week)}\n    start: \"10:15\"\n    topic: {topic}"
        for week, topic in enumerate(["Introduction, NumPy", "Linear regression", "Backprop"])
    )
    return f"""\
# The course file: one per course. `course validate` checks it; `course --help` lists commands.
id: {course_id}
title: Deep Learning
timezone: Europe/Berlin          # IANA zone; every date and time below is local to it
withdrawal_deadline: {first + dt.timedelta(weeks=6)}

# When an assignment names `for_session` and no `due`, its deadline is the last
# WEEKDAY TIME before that session starts.
deadline_rule:
  weekday: sunday
  time: "18:00"

sessions:
{sessions}

assignments:
  - id: 01-numpy
    title: Python and NumPy
    release: {first - dt.timedelta(days=1)} 12:00
    for_session: 2                # due: Sunday 18:00 before session 2
  # - id: 02-linreg
  #   title: Linear regression
  #   due: {first + dt.timedelta(weeks=1, days=5)} 18:00   # or an explicit local date and time

policy:
  excused_misses: 1      # misses allowed; one more means exclusion
  # pass_threshold: the fraction of its points a hand-in must earn to count as handed in.
  # At 0 every hand-in in time counts, even blank work: a notebook with no cells, the release
  # handed back unchanged, one that never finishes (status flags those that earned 0 points).
  # 0.1, say, counts work that earns under 10 % of the points as a miss.
  pass_threshold: 0
  late: missed           # missed | accepted

{grading_section(backend, broker)}
roster:                  # or: course roster import people.csv
  instructors:
    - {{id: instructor, first_name: Ina, last_name: Structor, email: ina@example.org}}
  students: []
  graders: []
"""

"""Reading what the standing is judged from, in plain SQL: the same queries whether they run
in a ``Gradebook``'s session (``records.gather_facts``) or on a connection of their own
(``open_reader``, what ``course status`` uses).

``open_reader`` on a SQLite file that is current needs neither SQLAlchemy nor its ORM, only
Python's ``sqlite3`` (importing SQLAlchemy alone costs ``course status`` about 0.2 s). Anything
else, a PostgreSQL URL or a gradebook that must be migrated first, is opened as a ``Gradebook``,
so migrating and refusing stay in one place. Neither path creates a gradebook: a missing SQLite
file is refused here, before ``sqlite3`` could create it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ..coursefile import Course
from ..errors import GradebookMissing
from ..policy import Facts, Graded, GradingError, Override
from . import SCHEMA_VERSION, VERSION_TABLE
from .failures import shown_url

__all__ = ["Rows", "gather_facts", "nbgrader_scores", "open_reader", "presentation_history",
           "release_times"]

Rows = Callable[[str], Sequence[Sequence]]  # runs one SELECT, returns its rows as tuples


def instant(value) -> dt.datetime | None:
    """A stored instant as an aware UTC datetime, as ``models.UTCDateTime`` reads it: SQLite
    keeps naive UTC text, PostgreSQL returns datetimes (aware, or naive UTC in nbgrader's)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # naive UTC text, parsed as UTC in one step: 5x faster than a replace() after
            parsed = dt.datetime.fromisoformat(value + "+00:00")
        except ValueError:  # it has an offset of its own
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:  # not a date alone
            return parsed
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _latest_by_pair(rows, key=lambda row: row[0]) -> dict:
    """The last row of each (student, assignment) in ``key`` order; rows start with
    ``id, student_id, assignment_id``."""
    latest = {}
    for row in sorted(rows, key=key):
        latest[(row[1], row[2])] = row
    return latest


def release_times(rows: Rows, course: Course) -> dict[str, dt.datetime]:
    """When each released assignment became visible: its first release, or the course file's
    ``release:`` time if that is later (the exchange hides it until then)."""
    first: dict[str, dt.datetime] = {}
    for assignment_id, released_at in rows("SELECT assignment_id, released_at "
                                           "FROM course_release"):
        released_at = instant(released_at)
        if assignment_id not in first or released_at < first[assignment_id]:
            first[assignment_id] = released_at
    for assignment in course.assignments:
        if assignment.id in first and assignment.release is not None:
            first[assignment.id] = max(first[assignment.id], assignment.release)
    return first


def gather_facts(rows: Rows, course: Course) -> Facts:
    """Receipts, releases, extensions, excuses, late days asked for, grading errors, scores,
    score overrides and the points each assignment is out of, for the policy. Revoked
    extensions and excuses, withdrawn late-day requests and cleared overrides are left out.

    A score is tied to the receipt its grading run graded. nbgrader's score (which includes
    hand grading in the formgrader) is used while the latest run of that pair succeeded; after a
    failed re-grade the last good run's own score stands.
    """
    facts = Facts(releases=release_times(rows, course))
    received = {}
    for receipt_id, student_id, assignment_id, received_at in rows(
            "SELECT id, student_id, assignment_id, received_at FROM course_receipt ORDER BY id"):
        received[receipt_id] = received_at = instant(received_at)
        facts.receipts.setdefault((student_id, assignment_id), []).append(received_at)
    in_force = "SELECT id, student_id, assignment_id, {} FROM {} WHERE revoked_at IS NULL"
    for pair, row in _latest_by_pair(rows(in_force.format("until", "course_extension"))).items():
        facts.extensions[pair] = instant(row[3])
    for pair, row in _latest_by_pair(rows(in_force.format("reason", "course_excuse"))).items():
        facts.excuses[pair] = row[3]
    for pair, row in _latest_by_pair(rows("SELECT id, student_id, assignment_id, days FROM "
                                          "course_late_day_request "
                                          "WHERE withdrawn_at IS NULL")).items():
        facts.late_day_requests[pair] = row[3]
    overrides = rows("SELECT id, student_id, assignment_id, score, reason, set_by, set_at, "
                     "max_score FROM course_score_override WHERE cleared_at IS NULL")
    for pair, (*_, score, reason, by, at, max_score) in _latest_by_pair(overrides).items():
        facts.overrides[pair] = Override(score, reason, by, instant(at), max_score)
    runs = [(run_id, student, assignment, receipt_id, instant(started_at), *rest)
            for run_id, student, assignment, receipt_id, started_at, *rest in rows(
                "SELECT id, student_id, assignment_id, receipt_id, started_at, outcome, "
                "message, score, max_score FROM course_grading_run "
                "WHERE outcome <> 'running'")]
    by_start = lambda run: (run[4], run[0])  # a re-grade reuses its (older) row
    latest = _latest_by_pair(runs, key=by_start)
    # the latest run with a score: a success, or a failed re-grade keeping the score it replaced
    good = _latest_by_pair([run for run in runs if run[7] is not None], key=by_start)
    for pair, (_, _, _, receipt_id, _, outcome, message, _, _) in latest.items():
        if outcome != "success":
            facts.grading_errors[pair] = GradingError(message, received.get(receipt_id),
                                                      unreadable=outcome == "unreadable")
    nbgrader_max = nbgrader_max_scores(rows)
    nbgrader = nbgrader_scores(rows, [assignment.id for assignment in course.assignments],
                               nbgrader_max)
    for pair, run in good.items():
        when, score, max_score = received.get(run[3]), run[7], run[8]
        if when is None or score is None:
            continue
        if latest[pair] is run and pair in nbgrader:
            score, max_score = nbgrader[pair]
        facts.scores[pair] = Graded(score, max_score, when)
    facts.max_points = assignment_points(facts, nbgrader_max)
    return facts


def assignment_points(facts: Facts, nbgrader_max: dict[str, float]) -> dict[str, float]:
    """The points each assignment is out of: its graded cells' in nbgrader's tables (written
    by ``course generate``), else the most any score of it (graded or set by hand) is out of;
    an assignment with neither is left out."""
    points: dict[str, float] = {}
    known = [(pair[1], graded.max_score) for pair, graded in facts.scores.items()]
    known += [(pair[1], override.max_score) for pair, override in facts.overrides.items()]
    for assignment_id, max_score in known:
        if max_score:
            points[assignment_id] = max(points.get(assignment_id, 0.0), max_score)
    points.update({name: total for name, total in nbgrader_max.items() if total})
    return points


# nbgrader's tables (nbgrader.api defines them): a grade counts its manual score, else its
# automatic one (else 0), plus any extra credit. Driven by the grade table: its one index
# (cell, notebook) cannot serve a join on the notebook, which SQLite would index anew each time.
_NBGRADER_POINTS = """
SELECT n.assignment_id, SUM(CASE
    WHEN g.manual_score IS NOT NULL THEN g.manual_score + COALESCE(g.extra_credit, 0.0)
    WHEN g.auto_score IS NOT NULL THEN g.auto_score + COALESCE(g.extra_credit, 0.0)
    ELSE 0.0 END)
FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id
GROUP BY n.assignment_id"""
_NBGRADER_SUBMISSIONS = """
SELECT s.id, s.student_id, a.name
FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id"""
_NBGRADER_MAX_SCORES = """
SELECT a.name, SUM(c.max_score)
FROM assignment a
JOIN notebook n ON n.assignment_id = a.id
JOIN base_cell b ON b.notebook_id = n.id
JOIN {} c ON c.id = b.id
GROUP BY a.name"""


def nbgrader_max_scores(rows: Rows) -> dict[str, float]:
    """Each assignment's max score in nbgrader's tables: the sum of its graded cells' (grade
    cells and task cells)."""
    max_scores: dict[str, float] = {}
    for cells_table in ("grade_cells", "task_cells"):
        for name, total in rows(_NBGRADER_MAX_SCORES.format(cells_table)):
            max_scores[name] = max_scores.get(name, 0.0) + (total or 0.0)
    return max_scores


def nbgrader_scores(rows: Rows, assignment_ids: list[str],
                    max_scores: dict[str, float] | None = None
                    ) -> dict[tuple[str, str], tuple[float, float]]:
    """nbgrader's score and max score of each submission of these assignments, by (student,
    assignment), hand grading in the formgrader included.

    Read from nbgrader's tables in four queries, as nbgrader defines them: a submission scores
    the sum of its grades (0 without any), out of the sum of the max scores of the
    assignment's graded cells (grade cells and task cells). nbgrader's own Gradebook would
    cost two queries per submission, and importing nbgrader about 2 s.
    """
    wanted = set(assignment_ids)  # filtered here: the SQL then needs no parameters
    if max_scores is None:
        max_scores = nbgrader_max_scores(rows)
    points = dict(rows(_NBGRADER_POINTS))
    scores: dict[tuple[str, str], float] = {}
    for submission, student, name in rows(_NBGRADER_SUBMISSIONS):
        if name in wanted:
            scores[student, name] = scores.get((student, name), 0.0) + (points.get(submission)
                                                                        or 0.0)
    return {pair: (score, max_scores.get(pair[1], 0.0)) for pair, score in scores.items()}


def presentation_history(rows: Rows) -> dict[str, list[dict]]:
    """Per student, every time they were drawn (a withdrawn draw left out), in the order
    drawn: assignment, when, and whether absent."""
    history: dict[str, list[dict]] = {}
    for student_id, assignment_id, drawn_at, absent in rows(
            "SELECT student_id, assignment_id, drawn_at, absent FROM course_presentation "
            "WHERE withdrawn_at IS NULL ORDER BY id"):
        history.setdefault(student_id, []).append(
            {"assignment": assignment_id, "drawn_at": instant(drawn_at), "absent": bool(absent)})
    return history


def _sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for any other URL (a driver, query
    options, escapes or an in-memory database are left to SQLAlchemy)."""
    path = url.removeprefix("sqlite:///")
    if path == url or not path or path == ":memory:" or any(c in path for c in "?%"):
        return None
    return Path(path)


def _current_sqlite(path: Path) -> sqlite3.Connection | None:
    """A connection to a SQLite gradebook whose schema is current, reading in one snapshot;
    None when it is older, newer or unreadable (a ``Gradebook`` migrates or refuses it)."""
    if not path.is_file():
        return None  # a folder in its place: refused by a Gradebook
    connection = sqlite3.connect(path, isolation_level=None)  # BEGIN and ROLLBACK by hand
    try:
        connection.execute("BEGIN")  # deferred: one snapshot from the first read on
        version = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.Error:
        version = None
    if version == (SCHEMA_VERSION,):
        return connection
    connection.close()
    return None


@contextlib.contextmanager
def open_reader(url: str, course_id: str) -> Iterator[Rows]:
    """The gradebook at ``url`` for reading: ``rows(sql)`` runs one SELECT. A missing gradebook
    is refused (``GradebookMissing``), never created."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():  # sqlite3.connect would create an empty one
        raise GradebookMissing(shown_url(url))
    connection = _current_sqlite(path) if path is not None else None
    if connection is None:
        from .database import Gradebook

        with Gradebook(url, course_id) as gb:
            yield gb.rows()
        return
    try:
        yield lambda sql: connection.execute(sql).fetchall()
    finally:
        connection.close()  # rolls the read transaction back

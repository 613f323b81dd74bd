"""``course demo``: a small course replayed end to end on SQLite.

Two assignments from this repository's ``assignments/`` are generated and released with
nbgrader; eight scripted students fetch them, answer (well, partly, late, not at all, with an
unreadable file) and submit; the instructor grants an extension and an excuse, collects, grades
and reads the standing. The course calendar is laid out around today so both deadlines have
passed and the withdrawal deadline has not, whatever day it runs (``now`` is an input).
Submissions are replayed with scripted receipt times
(``inbox.receive(received_at=...)``): this is a recorded week, not a live server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from rich.console import Console

from autograder.notebooks import solution_cells, with_cells
from course import calendar
from course.errors import UserError

__all__ = [
    "DEMO_ASSIGNMENTS", "EXCUSES", "EXTENSIONS", "STUDENTS", "Handin", "demo_course_file",
    "released_by", "run_demo", "scripted_handins",
]

REPO_ASSIGNMENTS = Path(__file__).resolve().parent.parent / "assignments"
# The course's syllabus: one assignment a week. The demo lists every one shipped in
# assignments/ and replays the first two with scripted students.
SYLLABUS = [
    ("01-numpy", "Python and NumPy"),
    ("02-linreg", "Linear regression by gradient descent"),
    ("03-autodiff", "Automatic differentiation"),
    ("04-logreg", "Logistic regression: the Challenger O-rings"),
    ("05-softmax", "Multinomial logistic regression"),
    ("06-mlp", "A multilayer perceptron from scratch"),
    ("07-optimizers", "Optimizers"),
    ("08-regularization", "Regularization and normalization"),
    ("09-keras-tabular", "Keras for tabular data"),
    ("10-cnn", "Convolutional networks"),
    ("11-lstm-timeseries", "LSTMs for time series"),
    ("12-char-lstm", "A character-level language model"),
    ("13-perceptron", "The perceptron"),
    ("14-vanishing-gradients", "Vanishing gradients and skip connections"),
    ("15-autoencoder", "A denoising autoencoder"),
    ("16-introspection", "Introspection: saliency maps and occlusion"),
]
DEMO_ASSIGNMENTS = SYLLABUS[:2]


def shipped_assignments() -> list[tuple[str, str]]:
    return [(aid, title) for aid, title in SYLLABUS if (REPO_ASSIGNMENTS / aid).is_dir()]
ZONE = "Europe/Berlin"
INSTRUCTOR = "demo-instructor"



@dataclass(frozen=True)
class Persona:
    """One scripted student: what they hand in for each assignment, and when.

    ``plan[assignment]`` is one of: ``"reference"`` (the solution), ``"partial"`` (the
    assignment's ``partial`` mutant), ``"malformed"`` (not JSON at all), or absent (no
    submission). ``offset`` is the receipt time relative to the deadline.
    """

    id: str
    first_name: str
    last_name: str
    plan: dict[str, str]
    offset: dict[str, dt.timedelta] = field(default_factory=dict)
    story: str = ""


BEFORE = -dt.timedelta(hours=20)
STUDENTS = [
    Persona("ada", "Ada", "Lovelace", {"01-numpy": "reference", "02-linreg": "reference"},
            story="perfect, on time"),
    Persona("ben", "Ben", "Partial", {"01-numpy": "partial", "02-linreg": "partial"},
            story="partly right, on time"),
    Persona("cleo", "Cleo", "Late", {"01-numpy": "reference", "02-linreg": "reference"},
            {"02-linreg": dt.timedelta(hours=3)}, story="second assignment 3 h late"),
    Persona("dan", "Dan", "Absent", {}, story="submits nothing: two misses"),
    Persona("eve", "Eve", "Extended", {"01-numpy": "reference", "02-linreg": "reference"},
            {"02-linreg": dt.timedelta(days=1)}, story="extension of 2 days, uses one"),
    Persona("finn", "Finn", "Broken", {"01-numpy": "malformed", "02-linreg": "reference"},
            story="first upload is not valid JSON: refused at submit, fixed an hour later"),
    Persona("gus", "Gus", "Excused", {"02-linreg": "reference"},
            story="excused from the first assignment (illness)"),
    Persona("hana", "Hana", "Once", {"02-linreg": "reference"},
            story="misses the first assignment: the one excused miss"),
]
EXTENSIONS = {("eve", "02-linreg"): (dt.timedelta(days=2), "hospital appointment")}
EXCUSES = {("gus", "01-numpy"): "medical certificate"}


SESSION_START = "10:15"
DEADLINE_HOUR = 18  # the course's deadline rule: Sunday 18:00 before the session
MIN_AGE = dt.timedelta(days=3)  # the last scripted deadline is at least this far in the past


def last_scripted_deadline(now: dt.datetime) -> dt.datetime:
    """The latest Sunday 18:00 (course time) at least ``MIN_AGE`` before ``now``: the deadline of
    the last scripted assignment. Every scripted receipt (up to a day after it) and extension (two
    days) lies in the past, on any day of the week and across daylight-saving changes."""
    local = (now - MIN_AGE).astimezone(calendar.get_zone(ZONE))
    day = local.date() - dt.timedelta(days=(local.weekday() - 6) % 7)  # Sunday on or before
    if local.weekday() == 6 and local.time() < dt.time(DEADLINE_HOUR):
        day -= dt.timedelta(weeks=1)
    return calendar.localize(dt.datetime.combine(day, dt.time(DEADLINE_HOUR)),
                             calendar.get_zone(ZONE))


def session_dates(now: dt.datetime) -> list[dt.date]:
    """Weekly Tuesday sessions. The session of the last scripted assignment is the Tuesday after
    its deadline; a reading week follows, so the next deadline is two weeks later: more than
    ``MIN_AGE`` + one week from ``now``, so the first unscripted assignment is always ahead."""
    last_scripted_session = len(DEMO_ASSIGNMENTS) + 1  # session 1 is the introduction
    tuesday = last_scripted_deadline(now).astimezone(calendar.get_zone(ZONE)).date()
    tuesday += dt.timedelta(days=2)
    first = tuesday - dt.timedelta(weeks=last_scripted_session - 1)
    count = len(SYLLABUS) + 2  # introduction ... wrap-up
    weeks = [n if n < last_scripted_session else n + 1 for n in range(count)]
    return [first + dt.timedelta(weeks=w) for w in weeks]


def demo_course_file(now: dt.datetime) -> str:
    """The demo course laid out around ``now``: the scripted assignments' deadlines have passed,
    the later ones and the withdrawal deadline lie ahead."""
    dates = session_dates(now)
    topics = ["Introduction", *(title for _aid, title in SYLLABUS), "Wrap-up"]
    sessions = "\n".join(
        f'  - {{date: {day}, start: "{SESSION_START}", topic: {json.dumps(topic)}}}'
        for day, topic in zip(dates, topics, strict=True)
    )
    # assignment n is released at the session before the one it is due for
    assignments = "\n".join(
        f"  - {{id: {aid}, title: {json.dumps(title)}, release: {dates[n]} 12:00, "
        f"for_session: {n + 2}}}"
        for n, (aid, title) in enumerate(SYLLABUS)
        if (aid, title) in shipped_assignments()
    )
    people = "\n".join(
        f"    - {{id: {p.id}, first_name: {p.first_name}, last_name: {p.last_name}, "
        f"email: {p.id}@example.org}}"
        for p in STUDENTS
    )
    withdrawal = dates[len(DEMO_ASSIGNMENTS) + 1] + dt.timedelta(weeks=5)
    return f"""\
# Demo course written by `course demo`: the term has run {len(DEMO_ASSIGNMENTS) + 1} weeks.
id: demo-dl
title: Deep Learning (demo)
timezone: {ZONE}
withdrawal_deadline: {withdrawal}
deadline_rule: {{weekday: sunday, time: "{DEADLINE_HOUR}:00"}}
sessions:
{sessions}
assignments:
{assignments}
policy: {{excused_misses: 1, pass_threshold: 0, late: missed}}
roster:
  instructors:
    - {{id: {INSTRUCTOR}, first_name: Ina, last_name: Structor}}
  students:
{people}
"""


def released_by(course, now: dt.datetime) -> list:
    """The assignments whose release time has come: the demo's instructor released them then."""
    return [a for a in course.assignments if a.release is not None and a.release <= now]


@dataclass(frozen=True)
class Handin:
    """One scripted upload: who, what (``reference``, ``partial`` or ``malformed``), when."""

    student_id: str
    assignment_id: str
    kind: str
    received_at: dt.datetime


def scripted_handins(course) -> list[Handin]:
    """Every upload of the scripted students, in the order they arrive. A malformed upload is
    refused at submit; its student hands in the reference an hour later."""
    handins = []
    for assignment_id, _title in DEMO_ASSIGNMENTS:
        due = course.due(assignment_id)
        for persona in STUDENTS:
            kind = persona.plan.get(assignment_id)
            if kind is None:
                continue
            received_at = due + persona.offset.get(assignment_id, BEFORE)
            handins.append(Handin(persona.id, assignment_id, kind, received_at))
            if kind == "malformed":
                handins.append(Handin(persona.id, assignment_id, "reference",
                                      received_at + dt.timedelta(hours=1)))
    return sorted(handins, key=lambda h: h.received_at)


def _answers(plan: str, source: Path) -> dict[str, str]:
    (notebook,) = sorted(source.glob("*.ipynb"))
    answers = solution_cells(nbformat.read(notebook, as_version=4))
    if plan == "partial":
        mutant = json.loads((source / "mutants" / "partial.json").read_text())
        answers.update(mutant["cells"])
    return answers


def _prepare(root: Path, force: bool, now: dt.datetime) -> None:
    if not REPO_ASSIGNMENTS.is_dir():
        raise UserError(f"{REPO_ASSIGNMENTS}: the demo needs the repository's assignments folder")
    if root.exists() and any(root.iterdir()):
        if not force:
            raise UserError(f"{root} is not empty; pass --force to replace it")
        shutil.rmtree(root)
    (root / "assignments").mkdir(parents=True)
    for assignment_id, _title in shipped_assignments():
        shutil.copytree(REPO_ASSIGNMENTS / assignment_id, root / "assignments" / assignment_id)
    (root / "course.yml").write_text(demo_course_file(now), encoding="utf-8")


def _submit_all(ws, console: Console) -> None:
    from course.inbox import receive

    released = {}
    for assignment_id, _title in DEMO_ASSIGNMENTS:
        outbound = ws.root / "exchange" / ws.course.id / "outbound" / assignment_id
        (path,) = sorted(outbound.glob("*.ipynb"))  # what `fetch` gives a student
        released[assignment_id] = (path.name, nbformat.read(path, as_version=4))
    with ws.gradebook() as gb:
        for handin in scripted_handins(ws.course):
            name, notebook = released[handin.assignment_id]
            if handin.kind == "malformed":
                content = b'{"cells": [ {"cell_type": "code", "source": "oops"'
            else:
                answers = _answers(handin.kind, ws.source / handin.assignment_id)
                content = nbformat.writes(with_cells(notebook, answers)).encode()
            due = ws.course.due(handin.assignment_id)
            files = {name: content,
                     # what the client claims is stored but never trusted
                     "timestamp.txt": str(due - dt.timedelta(days=3)).encode()}
            try:
                receive(ws, gb, handin.student_id, handin.assignment_id, files,
                        received_at=handin.received_at)
            except UserError as exc:
                console.print(f"  {handin.student_id}'s upload of {handin.assignment_id} was "
                              f"refused at submit: {exc}", highlight=False)
        console.print(f"  {len(STUDENTS)} students fetched and submitted (scripted receipt times)")


def _grant(ws) -> None:
    from course.gradebook.records import grant_excuse, grant_extension

    with ws.gradebook() as gb:
        for (student, assignment_id), (extra, reason) in EXTENSIONS.items():
            grant_extension(gb, student, assignment_id, ws.course.due(assignment_id) + extra,
                            reason, by=INSTRUCTOR)
        for (student, assignment_id), reason in EXCUSES.items():
            grant_excuse(gb, student, assignment_id, reason, by=INSTRUCTOR)
        gb.commit()


def run_demo(root: Path, *, now: dt.datetime, force: bool = False,
             console: Console | None = None,
             grade_step: Callable[..., object] | None = None) -> int:
    """Build and replay the demo course as if it ran at ``now`` (UTC). ``grade_step(ws,
    assignment_id, console=...)`` grades one assignment (the command line passes its progress
    bar); by default ``course.grade.grade``, without one."""
    from course.collect import collect
    from course.grade import grade
    from course.gradebook.database import upgrade_database
    from course.release import release
    from course.reports import status_table, write_report
    from course.standing import standing_data
    from course.workspace import open_workspace

    console = console or Console()
    # everything the demo records (releases, draws, the rota) is its instructor's doing
    os.environ.setdefault("COURSE_USER", INSTRUCTOR)
    grade_step = grade_step or (lambda ws, assignment_id, console: grade(ws, assignment_id))
    started = time.perf_counter()
    root = root.resolve()
    _prepare(root, force, now)
    ws = open_workspace(root)
    upgrade_database(ws.db_url)  # a new course: its gradebook made as `course init` makes it
    console.print(f"[bold]Demo course[/] in {root} (gradebook {ws.db_url})")
    for assignment in released_by(ws.course, now):
        release(ws, assignment.id, now=assignment.release, by=INSTRUCTOR)
        due = calendar.iso_local(ws.course.due(assignment.id), ws.course.zone)
        console.print(f"  generated and released {assignment.id} (due {due})")
    _submit_all(ws, console)
    _grant(ws)
    console.print("  granted 1 extension and 1 excuse")
    for assignment_id, _title in DEMO_ASSIGNMENTS:
        collected = collect(ws, assignment_id)
        console.print(f"  collected {len(collected)} submissions of {assignment_id}")
        grade_step(ws, assignment_id, console=console)
    from devhub.demo_life import run_course_life  # presenters, summaries, wiki

    wiki = run_course_life(ws, [aid for aid, _title in DEMO_ASSIGNMENTS], console)
    data = standing_data(ws, now)
    console.print(status_table(data))
    html_path, csv_path = write_report(data, root / "reports")
    console.print(f"Report: {html_path}\n        {csv_path}")
    console.print("Wiki:   " + "\n        ".join(f"{path} ({fmt})" for fmt, path in wiki.items()))
    console.print(f"Try: course status --course {root / 'course.yml'} --format json")
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s")
    return 0

"""How long reading the standing takes on a big course: ``course status --format json`` for
500 students x 12 assignments on SQLite, in a fresh interpreter each time (what an instructor
waits for), next to ``python -c pass`` and to importing the CLI alone. Target: under 0.5 s.

The course is built once in a temporary folder: a realistic share of receipts (some handed in
twice, some late), grading runs (a few failed), nbgrader's submissions with their grades,
extensions, excuses, overrides and presenter draws. ``course validate`` and ``course
deadlines`` are timed on the same course. Medians over the repeats; each command is run once
before timing so the operating system's file cache is warm for all of them.

    python benchmarks/status_bench.py [--students 500] [--assignments 12] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIRST_DUE = dt.datetime(2026, 10, 18, 17, 0, tzinfo=dt.UTC)  # Sundays 18:00 Berlin (winter)
CELLS = 4  # graded cells per assignment notebook, 2.5 points each


def course_yml(students: int, assignments: int) -> str:
    lines = ["id: bench", "title: Status benchmark", "timezone: Europe/Berlin",
             "withdrawal_deadline: 2027-06-30", "assignments:"]
    for number in range(1, assignments + 1):
        due = (FIRST_DUE + dt.timedelta(weeks=number - 1)).astimezone(
            dt.timezone(dt.timedelta(hours=1)))
        lines.append(f"  - {{id: a{number:02d}, title: Assignment {number}, "
                     f"due: {due:%Y-%m-%d %H:%M}}}")
    lines += ["policy: {excused_misses: 2, pass_threshold: 0.3}", "roster:", "  students:"]
    lines += [f"    - {{id: s{i:03d}, first_name: First{i}, last_name: Last{i}, "
              f"email: s{i:03d}@example.org}}" for i in range(students)]
    lines.append("  instructors: [{id: ina}]")
    return "\n".join(lines) + "\n"


def as_of(assignments: int) -> dt.datetime:
    """A moment with most deadlines past: the last two assignments are not released yet."""
    return FIRST_DUE + dt.timedelta(weeks=max(assignments - 3, 0), days=1)


def build(root: Path, students: int, assignments: int, seed: int = 1) -> None:
    from sqlalchemy import text

    from course.gradebook.database import upgrade_database
    from course.gradebook.models import (
        Excuse,
        Extension,
        GradingRun,
        Presentation,
        Receipt,
        Release,
        ScoreOverride,
    )
    from course.workspace import open_workspace

    rng = random.Random(seed)
    (root / "course.yml").write_text(course_yml(students, assignments), encoding="utf-8")
    ws = open_workspace(root)
    upgrade_database(ws.db_url)  # a new course's gradebook, made as `course upgrade` makes it
    ws.sync_gradebook()  # nbgrader's assignment rows, which its submissions below refer to
    ids = [a.id for a in ws.course.assignments]
    people = [p.id for p in ws.course.roster.students]
    released, graded = ids[:-2], ids[:-4]
    nb_rows: dict[str, list] = {name: [] for name in (
        "notebook", "base_cell", "grade_cells", "submitted_assignment", "submitted_notebook",
        "grade")}
    with ws.gradebook() as gb:
        session = gb.session
        nb_assignment = dict(session.execute(text("select name, id from assignment")).all())
        for number, assignment_id in enumerate(ids):
            due = ws.course.due(assignment_id)
            if assignment_id in released:
                session.add(Release(assignment_id=assignment_id, released_by="ina",
                                    released_at=due - dt.timedelta(days=6), checksum="0" * 64))
            cells = []
            if assignment_id in graded:
                notebook = uuid.uuid4().hex
                nb_rows["notebook"].append({"id": notebook, "name": "work",
                                            "assignment_id": nb_assignment[assignment_id]})
                for cell in range(CELLS):
                    cells.append(uuid.uuid4().hex)
                    nb_rows["base_cell"].append({"id": cells[-1], "name": f"test_{cell}",
                                                 "notebook_id": notebook, "type": "GradeCell"})
                    nb_rows["grade_cells"].append({"id": cells[-1], "max_score": 2.5,
                                                   "cell_type": "code"})
            for student in people:
                if assignment_id not in released or rng.random() < 0.08:
                    continue
                receipts = []
                for _ in range(2 if rng.random() < 0.15 else 1):
                    late = rng.random() < 0.05
                    when = due + dt.timedelta(hours=rng.uniform(1, 30) if late
                                              else -rng.uniform(1, 120))
                    receipts.append(Receipt(
                        student_id=student, assignment_id=assignment_id, received_at=when,
                        sha256="0" * 64, size_bytes=2048, client_timestamp=None,
                        storage_path=f"inbox/{assignment_id}/{student}/{len(receipts)}"))
                session.add_all(receipts)
                if rng.random() < 0.02:
                    session.add(Extension(student_id=student, assignment_id=assignment_id,
                                          until=due + dt.timedelta(days=3), reason="ill",
                                          granted_by="ina", granted_at=due))
                if rng.random() < 0.02:
                    session.add(Excuse(student_id=student, assignment_id=assignment_id,
                                       reason="certificate", granted_by="ina", granted_at=due))
                if assignment_id not in graded:
                    continue
                session.flush()
                scores = [rng.choice([0.0, 1.0, 2.5, 2.5, 2.5]) for _ in cells]
                ok = rng.random() > 0.02
                session.add(GradingRun(
                    student_id=student, assignment_id=assignment_id, receipt_id=receipts[-1].id,
                    engine="sandbox", grader_version=f"v{number}", started_at=due,
                    finished_at=due, outcome="success" if ok else "error",
                    message="" if ok else "notebook timed out",
                    score=sum(scores) if ok else None, max_score=CELLS * 2.5 if ok else None))
                if rng.random() < 0.005:
                    session.add(ScoreOverride(student_id=student, assignment_id=assignment_id,
                                              score=8.0, reason="appeal", set_by="ina",
                                              set_at=due + dt.timedelta(days=9)))
                if not ok:
                    continue
                submitted, submitted_nb = uuid.uuid4().hex, uuid.uuid4().hex
                nb_rows["submitted_assignment"].append({
                    "id": submitted, "assignment_id": nb_assignment[assignment_id],
                    "student_id": student, "timestamp": receipts[-1].received_at.replace(
                        tzinfo=None)})
                nb_rows["submitted_notebook"].append({
                    "id": submitted_nb, "assignment_id": submitted, "notebook_id": notebook,
                    "flagged": False})
                for cell, score in zip(cells, scores, strict=True):
                    nb_rows["grade"].append({
                        "id": uuid.uuid4().hex, "notebook_id": submitted_nb, "cell_id": cell,
                        "auto_score": score, "needs_manual_grade": False})
            if assignment_id in graded:
                for draw, student in enumerate(rng.sample(people, 2)):
                    session.add(Presentation(assignment_id=assignment_id, student_id=student,
                                             draw_round=0, seed=str(draw), drawn_at=due,
                                             drawn_by="ina", absent=False))
        gb.commit()
        from nbgrader.api import Base as NbBase  # setting up only: the timed runs never load it

        with gb.engine.begin() as connection:
            for name, rows in nb_rows.items():
                if rows:
                    connection.execute(NbBase.metadata.tables[name].insert(), rows)


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}  # this checkout's code
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--assignments", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--keep", metavar="DIR", help="build the course here and keep it (a course already there is measured)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp).resolve()
        root.mkdir(parents=True, exist_ok=True)
        os.environ.pop("COURSE_DB_URL", None)
        if (root / "gradebook.db").is_file():
            print(f"measuring the course already built in {root}")
        else:
            started = time.perf_counter()
            build(root, args.students, args.assignments)
            print(f"built {args.students} students x {args.assignments} assignments in "
                  f"{time.perf_counter() - started:.1f} s ({root / 'gradebook.db'})")
        moment = as_of(args.assignments).astimezone(dt.timezone(dt.timedelta(hours=1)))
        py, course = [sys.executable], [sys.executable, "-m", "commands.main"]
        runs = {
            "python -c pass": py + ["-c", "pass"],
            "import commands.main": py + ["-c", "import commands.main"],
            "course status --format json": course + [
                "status", "--format", "json", "--as-of", f"{moment:%Y-%m-%d %H:%M}"],
            "course validate": course + ["validate"],
            "course deadlines": course + ["deadlines"],
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for argv in runs.values():
            timed(argv, root)  # warm the file cache; every command reads ./course.yml
        for _ in range(args.repeats):
            for name, argv in runs.items():  # interleaved, so drift hits every command alike
                samples[name].append(timed(argv, root))
        medians = {name: (statistics.median(w for w, _ in runs_), statistics.median(
            c for _, c in runs_)) for name, runs_ in samples.items()}
        base_cpu = medians["python -c pass"][1]
        print(f"\nmedian of {args.repeats} runs, each in a fresh interpreter "
              f"(wall time, and CPU time: less disturbed by a busy machine):")
        print(f"  {'':<30} {'wall':>8} {'cpu':>8}   {'cpu over python -c pass':>8}")
        for name, (wall, cpu) in medians.items():
            extra = "" if name == "python -c pass" else f"   +{cpu - base_cpu:.3f} s"
            print(f"  {name:<30} {wall:7.3f}s {cpu:7.3f}s{extra}")
        wall, cpu = medians["course status --format json"]
        verdict = "met" if wall < 0.5 else "MISSED"
        print(f"\ntarget: course status under 0.5 s on SQLite: {verdict} "
              f"(wall {wall:.3f} s, cpu {cpu:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

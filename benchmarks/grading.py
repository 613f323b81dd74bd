"""Grading benchmarks, measured side by side in one run (`make bench`).

1. Overhead: grading the 01-numpy reference notebook with our engine (sandbox + hidden graders)
   vs executing the same notebook with plain nbclient. Target: at most 10 % more time, or at
   most 0.5 s more, whichever is larger.
2. Throughput: N submissions of 01-numpy, `course grade --workers 2` vs stock
   `nbgrader autograde` on the same submissions. Target: at least 3x faster on 2 cores.
3. The fleet: the same N submissions graded through RabbitMQ by two Celery workers vs one
   (`course worker --concurrency 1` each; a throwaway RabbitMQ and PostgreSQL on 127.0.0.1).
   Target: at least 1.7x on 2 cores.

`--json` prints one JSON object (overhead_ratio, throughput_speedup, celery_speedup_2_vs_1 and
the measurements behind them) instead of the lines.

Medians over the repeats; each side is run alternately so drift hits both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.engine import grade_notebook
from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook

SOURCE = REPO / "assignments" / "01-numpy"
# issue 26 item 6: course grade --workers 2 vs nbgrader autograde; two Celery workers vs one
THROUGHPUT_TARGET, CELERY_TARGET = 3.0, 1.7
COURSE_YML = """\
id: bench
title: Benchmark
timezone: UTC
withdrawal_deadline: 2030-01-01
assignments:
  - {{id: 01-numpy, due: 2029-01-01 18:00}}
roster:
  instructors:
    - {{id: bench}}
  students:
{students}
"""


def reference_notebook():
    src = nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)
    return answer_notebook(src, solution_cells(src))


def time_nbclient(nb) -> float:
    from nbclient import NotebookClient

    started = time.perf_counter()
    NotebookClient(nbformat.from_dict(nb), timeout=120, kernel_name="python3").execute()
    return time.perf_counter() - started


def time_engine(nb) -> float:
    started = time.perf_counter()
    result = grade_notebook(nb, graders=SOURCE / "graders")
    assert result.tests and all(t.outcome == "passed" for t in result.tests), result
    return time.perf_counter() - started


def overhead(repeats: int) -> dict:
    nb = reference_notebook()
    time_nbclient(nb), time_engine(nb)  # warm caches (imports, page cache) for both
    plain, ours = [], []
    for _ in range(repeats):
        plain.append(time_nbclient(nb))
        ours.append(time_engine(nb))
    p, o = statistics.median(plain), statistics.median(ours)
    allowed = max(0.10 * p, 0.5)
    return {"nbclient_s": p, "engine_s": o, "extra_s": o - p, "ratio": o / p,
            "allowed_extra_s": allowed, "meets_target": o - p <= allowed}


def make_course(root: Path, n: int) -> list[str]:
    students = [f"s{i:02d}" for i in range(n)]
    (root / "assignments").mkdir(parents=True)
    shutil.copytree(SOURCE, root / "assignments" / "01-numpy")
    people = "\n".join(f"    - {{id: {s}}}" for s in students)
    (root / "course.yml").write_text(COURSE_YML.format(students=people))
    nb = reference_notebook()
    for student in students:
        folder = root / "submitted" / student / "01-numpy"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "numpy-basics.ipynb")
        (folder / "timestamp.txt").write_text("2028-12-31 12:00:00.000000 UTC")
    return students


def run(command: list[str], cwd: Path) -> float:
    # the instructor of COURSE_YML: a command run as root records who ran it
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "COURSE_USER": "bench"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def throughput(n: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ours_root, stock_root = Path(tmp) / "ours", Path(tmp) / "stock"
        make_course(ours_root, n)
        make_course(stock_root, n)
        course = [sys.executable, "-m", "commands.main"]
        for root in (ours_root, stock_root):  # same gradebook content
            run([*course, "upgrade"], root)  # a new course's gradebook
            run([*course, "generate", "01-numpy"], root)
            run([*course, "release", "01-numpy"], root)  # grading refuses what was never out
        # stock nbgrader: its own config file, its default Execute preprocessor
        (stock_root / "nbgrader_config.py").write_text(
            "c = get_config()\nc.CourseDirectory.root = '.'\n"
            "c.CourseDirectory.source_directory = 'assignments'\n"
            "c.CourseDirectory.course_id = 'bench'\n"
            "c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__', "
            "'feedback', 'graders', 'mutants']\n")
        stock = run([str(Path(sys.executable).parent / "nbgrader"), "autograde", "01-numpy",
                     "--force"], stock_root)
        ours = run([*course, "grade", "01-numpy", "--workers", str(workers)], ours_root)
    return {"submissions": n, "workers": workers, "nbgrader_autograde_s": stock,
            "course_grade_s": ours, "speedup": stock / ours,
            "meets_target": stock / ours >= THROUGHPUT_TARGET}


def celery_batches(n: int) -> dict:
    """Seconds to grade the same n submissions through one Celery worker, then two."""
    import signal

    sys.path.insert(0, str(REPO / "tests"))
    from postgres_server import PostgresServer
    from rabbitmq_server import RabbitServer

    from course.grade import grade
    from course.gradebook.database import upgrade_database
    from course.workspace import open_workspace

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, PostgresServer() as pg, \
            RabbitServer() as rabbit:
        root = Path(tmp) / "course"
        make_course(root, n)
        text = (root / "course.yml").read_text().replace(
            "assignments:", f"gradebook: {{url: '{pg.create_database()}'}}\n"
            f"grading: {{backend: celery, broker: '{rabbit.url}'}}\nassignments:")
        (root / "course.yml").write_text(text)
        env = {k: v for k, v in os.environ.items() if k not in ("COURSE_DB_URL",
                                                                 "COURSE_BROKER_URL")}
        os.environ.pop("COURSE_DB_URL", None)
        os.environ.pop("COURSE_BROKER_URL", None)
        ws = open_workspace(root)
        upgrade_database(ws.db_url)  # a new course's gradebook, made as `course upgrade` makes it
        workers = []

        def start(name: str) -> None:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "commands.main", "worker", "--course", str(root), "--name",
                 f"{name}@bench", "--concurrency", "1", "--loglevel", "WARNING"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

        def wait_ready(*names: str) -> None:
            from course.fleet.app import make_app

            app = make_app(rabbit.url)
            try:
                while not set(names) <= set(app.control.inspect(timeout=0.5, destination=list(
                        names)).ping() or {}):
                    if any(w.poll() is not None for w in workers):
                        raise SystemExit("a Celery worker exited at start")
            finally:
                app.close()

        def timed(students=None) -> float:
            started = time.perf_counter()
            outcomes = grade(ws, "01-numpy", students=students)
            assert all(o.outcome == "success" for o in outcomes), outcomes
            return time.perf_counter() - started

        try:
            start("w1")
            wait_ready("w1@bench")
            timed(["s00"])  # the worker's first job imports nbgrader: not part of the batch
            one = timed()
            start("w2")
            wait_ready("w1@bench", "w2@bench")
            timed(["s00", "s01"])  # both workers warm (one job each, prefetch 1)
            two = timed()
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)
    return {"submissions": n, "one_worker_s": one, "two_workers_s": two, "speedup": one / two,
            "meets_target": one / two >= CELERY_TARGET}


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-celery", action="store_true", help="skip the fleet (no RabbitMQ)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.submissions = 1, 2
    o = overhead(args.repeats)
    t = throughput(args.submissions, args.workers)
    c = None if args.no_celery else celery_batches(args.submissions)
    if args.json:
        print(json.dumps({
            "cores": os.cpu_count(), "load_average": os.getloadavg(),
            "overhead_ratio": o["ratio"], "overhead": o,
            "throughput_speedup": t["speedup"], "throughput": t,
            "celery_speedup_2_vs_1": c["speedup"] if c else None, "celery": c}, indent=1))
        return
    print(f"# grading benchmarks, {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores")
    print(f"overhead: nbclient {o['nbclient_s']:.2f} s, engine {o['engine_s']:.2f} s, "
          f"extra {o['extra_s']:+.2f} s (ratio {o['ratio']:.2f}; allowed +{o['allowed_extra_s']:.2f} s)"
          f" -> {'meets' if o['meets_target'] else 'MISSES'} target")
    print(f"throughput: {t['submissions']} submissions, nbgrader autograde "
          f"{t['nbgrader_autograde_s']:.1f} s, course grade --workers {t['workers']} "
          f"{t['course_grade_s']:.1f} s, speedup {t['speedup']:.2f}x "
          f"-> {'meets' if t['meets_target'] else 'MISSES'} target ({THROUGHPUT_TARGET}x)")
    if c:
        print(f"fleet: {c['submissions']} submissions, one Celery worker {c['one_worker_s']:.1f} s,"
              f" two {c['two_workers_s']:.1f} s, speedup {c['speedup']:.2f}x "
              f"-> {'meets' if c['meets_target'] else 'MISSES'} target ({CELERY_TARGET}x)")


if __name__ == "__main__":
    main()

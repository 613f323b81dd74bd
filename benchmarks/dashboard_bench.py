"""Server time of the dashboard's overview for 500 students x 12 assignments, on SQLite and on
PostgreSQL (a throwaway server from tests/postgres_server.py). Target: under 200 ms.

"Server time" is what the overview handler does after the hub's login check: gather the page's
data through the library (``dashboard.data.course_page``, whose standing is ``course status``'s)
and render the HTML (``dashboard.pages.render``), in one long-lived process as the service runs.
Two cases: judged afresh (the first view after a change) and with the standing reused
(``dashboard.cache``: the service's case while the gradebook, the course file and the clock's
side of every deadline are unchanged; the fingerprint check is included). Measured side by side:
the standing alone (``course.standing.standing_data``), to see what the page adds. The course is status_bench's (receipts, runs, nbgrader grades, extensions, excuses,
overrides, draws). Medians and 90th percentiles of the repeats, after one warm-up each.

    python benchmarks/dashboard_bench.py [--students 500] [--assignments 12] [--repeats 15]
                                         [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks"), str(REPO / "tests")]

from status_bench import as_of, build

TARGET_S = 0.2


def _timed(func, repeats: int) -> list[float]:
    func()  # warm: imports, templates compiled, the database's pages cached
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def measure(root: Path, assignments: int, repeats: int) -> dict[str, list[float]]:
    from course.standing import standing_data
    from course.workspace import open_workspace
    from dashboard import data, pages
    from dashboard.cache import StandingCache

    ws = open_workspace(root)
    now = as_of(assignments)
    context = {}

    def overview_data():
        context.update(data.course_page(ws, now))

    def overview_render():
        return pages.render("overview.html", now=now, zone=ws.course.zone, course=ws.course,
                            base="/services/dashboard/", static=lambda name: name, user="ina",
                            role="instructor", staff=True, messages=[], xsrf="token",
                            **context)

    def overview():
        overview_data()
        return overview_render()

    cache = StandingCache()

    def overview_cached():  # what the service does: the standing reused while nothing changed
        context.update(data.course_page(ws, now, standing=cache.get(ws, now)))
        return overview_render()

    overview_data()
    return {
        "standing alone (course status's data)": _timed(lambda: standing_data(ws, now), repeats),
        "overview: data": _timed(overview_data, repeats),
        "overview: render": _timed(overview_render, repeats),
        "overview: total, judged afresh": _timed(overview, repeats),
        "overview: total, standing reused (service)": _timed(overview_cached, repeats),
    }


def report(title: str, samples: dict[str, list[float]]) -> bool:
    print(f"\n{title}")
    print(f"  {'':<40} {'median':>8} {'p90':>8}")
    for name, values in samples.items():
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        print(f"  {name:<40} {statistics.median(values) * 1000:7.1f}ms {p90 * 1000:7.1f}ms")
    for name in ("overview: total, judged afresh", "overview: total, standing reused (service)"):
        total = statistics.median(samples[name])
        verdict = "met" if total < TARGET_S else "MISSED"
        print(f"  target: {name} under {TARGET_S * 1000:.0f} ms: {verdict} "
              f"(median {total * 1000:.0f} ms)")
    return statistics.median(samples["overview: total, standing reused (service)"]) < TARGET_S


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--assignments", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    size = f"{args.students} students x {args.assignments} assignments"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sqlite"
        root.mkdir()
        os.environ.pop("COURSE_DB_URL", None)
        build(root, args.students, args.assignments)
        report(f"SQLite, {size}", measure(root, args.assignments, args.repeats))
        if not args.no_postgres:
            from postgres_server import PostgresServer

            with PostgresServer() as server:
                os.environ["COURSE_DB_URL"] = server.create_database()
                root = Path(tmp) / "postgres"
                root.mkdir()
                build(root, args.students, args.assignments)
                report(f"PostgreSQL, {size}", measure(root, args.assignments, args.repeats))
                os.environ.pop("COURSE_DB_URL")
    return 0


if __name__ == "__main__":
    sys.exit(main())

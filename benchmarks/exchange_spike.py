"""A deadline spike against the running exchange: 300 submissions from 100 students in 60 s.

    .venv/bin/python benchmarks/exchange_spike.py [--submissions 300] [--students 100]
                                                   [--window 60] [--workers 32]

Starts a real JupyterHub on 127.0.0.1 (local spawner, the exchange as its managed service) with
a course of N students, gives each a JupyterHub token, then sends the submissions on a schedule
that thickens towards the deadline (arrival density grows linearly over the window), each as
its own HTTP request with the student's token, as a user server would. Prints p50/p95/p99/max
latency (upload to receipt), throughput, and checks that every acknowledged submission is in
the gradebook with its SHA-256 and stored files. Not a timed test: tests/course/
test_exchange_hub.py runs a shorter window with the same driver.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Spike:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    receipts: list[dict] = field(default_factory=list)  # acknowledged: receipt + what was sent
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def summary(self) -> dict:
        return {"submissions": sum(self.statuses.values()) + len(self.errors),
                "acknowledged": len(self.receipts), "statuses": self.statuses,
                "errors": len(self.errors), "seconds": round(self.seconds, 2),
                "p50_ms": round(1000 * self.percentile(50), 1),
                "p95_ms": round(1000 * self.percentile(95), 1),
                "p99_ms": round(1000 * self.percentile(99), 1),
                "max_ms": round(1000 * max(self.latencies, default=float("nan")), 1),
                "mean_ms": round(1000 * statistics.fmean(self.latencies), 1)
                if self.latencies else None}


def notebook_for(template: bytes, student: str, number: int) -> bytes:
    """The released notebook with a note that makes each submission's content distinct."""
    nb = json.loads(template)
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": f"spike-{number}",
                        "source": f"submission {number} by {student}"})
    return json.dumps(nb).encode()


def schedule(n: int, window: float, seed: int = 0) -> list[float]:
    """Arrival offsets in [0, window): density rising linearly towards the deadline."""
    rng = random.Random(seed)
    return sorted(window * rng.random() ** 0.5 for _ in range(n))


def run_spike(exchange_url: str, course_id: str, assignment_id: str, tokens: dict[str, str],
              notebook_name: str, template: bytes, *, submissions: int = 300,
              window: float = 60.0, workers: int = 32, seed: int = 0) -> Spike:
    students = sorted(tokens)
    url = f"{exchange_url.rstrip('/')}/api/courses/{course_id}/submissions/{assignment_id}"
    result, lock = Spike(), threading.Lock()
    start = time.monotonic()

    def submit(number: int, at: float) -> None:
        time.sleep(max(0.0, start + at - time.monotonic()))
        student = students[number % len(students)]
        content = notebook_for(template, student, number)
        body = json.dumps({"files": {notebook_name: base64.b64encode(content).decode()}})
        sent = time.monotonic()
        try:
            reply = requests.post(url, data=body, timeout=60,
                                  headers={"Authorization": f"token {tokens[student]}",
                                           "Content-Type": "application/json"})
        except requests.RequestException as exc:
            with lock:
                result.errors.append(f"{student}#{number}: {exc}")
            return
        took = time.monotonic() - sent
        with lock:
            result.statuses[reply.status_code] = result.statuses.get(reply.status_code, 0) + 1
            if reply.status_code == 201:
                result.latencies.append(took)
                result.receipts.append({**reply.json(), "sent": {notebook_name: content}})
            else:
                result.errors.append(f"{student}#{number}: HTTP {reply.status_code} "
                                     f"{reply.text[:200]}")

    with ThreadPoolExecutor(workers) as pool:
        for number, at in enumerate(schedule(submissions, window, seed)):
            pool.submit(submit, number, at)
    result.seconds = time.monotonic() - start
    return result


def check_stored(course_root: Path, receipts: list[dict]) -> list[str]:
    """Problems with acknowledged submissions: missing receipt row, other hash, missing files."""
    from course.gradebook import Receipt
    from course.inbox import digest
    from course.workspace import open_workspace

    ws = open_workspace(course_root / "course.yml")
    problems = []
    with ws.gradebook() as gb:
        for ack in receipts:
            row = gb.session.get(Receipt, ack["receipt_id"])
            if row is None or row.sha256 != ack["sha256"] or row.student_id != ack["student_id"]:
                problems.append(f"receipt {ack['receipt_id']}: not in the gradebook as sent")
                continue
            folder = ws.root / row.storage_path
            stored = {p.relative_to(folder).as_posix(): p.read_bytes()
                      for p in folder.rglob("*") if p.is_file()}
            if digest(stored) != row.sha256 or stored != ack["sent"]:
                problems.append(f"receipt {row.id}: stored files differ from what was sent")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args(argv)
    import secrets

    from devhub.hubcourse import build_hub_course

    sys.path.insert(0, str(REPO / "tests"))  # hub_doubles: the hub with an admin service
    from hub_doubles import ScriptedHub as LocalHub

    students = [(f"s{i:03d}", "Student", str(i)) for i in range(1, args.students + 1)]
    admin = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="spike-") as tmp:
        course_file = build_hub_course(Path(tmp) / "course", students=students, release="copy")
        hub = LocalHub(course_file, Path(tmp) / "hub", password="spike-password",
                       admin_token=admin)
        hub.start()
        try:
            hub.wait_for(hub.exchange_url + "health")
            tokens = {sid: hub.token_for(sid) for sid, _first, _last in students}
            (notebook,) = sorted((course_file.parent / "assignments" / "01-numpy")
                                 .glob("*.ipynb"))
            spike = run_spike(hub.exchange_url, "dl-hub", "01-numpy", tokens, notebook.name,
                              notebook.read_bytes(), submissions=args.submissions,
                              window=args.window, workers=args.workers)
            problems = check_stored(course_file.parent, spike.receipts)
        finally:
            hub.stop()
    print(json.dumps({**spike.summary(), "stored_problems": problems, "window_s": args.window,
                      "students": args.students}, indent=2))
    print(f"deadline spike: {args.submissions} submissions from {args.students} students in "
          f"{args.window:g} s: p50 {spike.percentile(50) * 1000:.0f} ms, "
          f"p99 {spike.percentile(99) * 1000:.0f} ms; {len(problems)} storage problems")
    return 0 if not problems and not spike.errors else 1


if __name__ == "__main__":
    sys.exit(main())

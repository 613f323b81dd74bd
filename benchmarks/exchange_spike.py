"""A deadline spike against the running exchange: 300 submissions from 100 students in 60 s.

    .venv/bin/python benchmarks/exchange_spike.py [--submissions 300] [--students 100]
                                                   [--window 60] [--workers 32] [--baseline]

Starts a real JupyterHub on 127.0.0.1 (local spawner, the exchange as its managed service) with
a course of N students, gives each a JupyterHub token, then sends the submissions on a schedule
that thickens towards the deadline (arrival density grows linearly over the window), each as
its own HTTP request with the student's token and a fresh idempotency key, as a user server
would (the uploads encoded before the clock starts, sent with ``http.client``: the client shares
the cores). Prints p50/p95/p99/max latency (upload to receipt), throughput, the exchange
process's own CPU seconds (from /proc/<pid>/stat: every thread, not the client's) per
acknowledged submission, beside it the hub's (``hub_cpu_ms_per_ack``: it answers every
hand-in's token) and the client's, the load average around the run, and checks that every
acknowledged submission is in the gradebook with its SHA-256 and stored files. Not a timed
test: tests/exchange/test_exchange_hub.py runs a shorter window with the same driver.

``--baseline``: in the same run, the same uploads (same students and tokens, same arrival
schedule, same client) also go to a minimal tornado handler in a process of its own (no auth,
no gradebook: it decodes the files, writes them and fsyncs once per hand-in), once before the
exchange's run and once after, and ``cost_ratio`` is the exchange's CPU seconds per
acknowledged hand-in over the mean of the handler's two (``baseline_swing``: how far apart the
two were, the machine's drift during the run).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
    """Send the spike: each hand-in one POST on a connection of its own. The uploads are
    encoded before the clock starts and sent with ``http.client``: on this machine the client
    shares the cores with the exchange and the hub, whereas a deadline's real clients are the
    students' servers on other machines (``requests`` cost 1.7 CPU-ms a hand-in here)."""
    students = sorted(tokens)
    url = f"{exchange_url.rstrip('/')}/api/courses/{course_id}/submissions/{assignment_id}"
    target = urlsplit(url)
    result, lock = Spike(), threading.Lock()
    uploads = []  # (student, content, body, headers) of each hand-in, in sending order
    for number in range(submissions):
        student = students[number % len(students)]
        content = notebook_for(template, student, number)
        body = json.dumps({"files": {notebook_name: base64.b64encode(content).decode()}})
        uploads.append((student, content, body.encode(), {
            "Authorization": f"token {tokens[student]}", "Content-Type": "application/json",
            # as the platform's client sends every hand-in
            "Idempotency-Key": secrets.token_urlsafe(16)}))
    start = time.monotonic()

    def submit(number: int, at: float) -> None:
        time.sleep(max(0.0, start + at - time.monotonic()))
        student, content, body, headers = uploads[number]
        sent = time.monotonic()
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            # the headers, then the body: two writes, as the platform's client (requests) and
            # the hub's proxy send them (one write would also save the server reads)
            connection.putrequest("POST", target.path, skip_accept_encoding=True)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                connection.putheader(name, value)
            connection.endheaders()
            connection.send(body)
            reply = connection.getresponse()
            status, data = reply.status, reply.read()
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                result.errors.append(f"{student}#{number}: {exc!r}")
            return
        finally:
            connection.close()
        took = time.monotonic() - sent
        with lock:
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 201:
                result.latencies.append(took)
                result.receipts.append({**json.loads(data), "sent": {notebook_name: content}})
            else:
                result.errors.append(f"{student}#{number}: HTTP {status} "
                                     f"{data[:200].decode(errors='replace')}")

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


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` so far, all its threads (/proc/<pid>/stat)."""
    return process_cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def process_cpu_seconds_of(stat: Path) -> tuple[float, float]:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float, float]]:
    """Each of process ``pid``'s threads, by thread id: its name ("main": the event loop; the
    exchange names its pools' threads in the operating system, ``exchange/threads.py``) and
    its user and system CPU seconds so far."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        try:
            name = "main" if tid == pid else (task / "comm").read_text().strip()
            threads[tid] = (name, *process_cpu_seconds_of(task / "stat"))
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended meanwhile
    return threads


def server_latencies(log: Path, path_prefix: str, since: int = 0) -> dict:
    """p50/p95/p99 of the 201 hand-ins in a tornado access log (request start to reply, as the
    server saw it: without the client's own queueing on these shared cores), from byte
    ``since`` on."""
    import re

    pattern = re.compile(rf"201 POST {re.escape(path_prefix)}\S*/submissions/\S+ \(.*?\) "
                         r"([\d.]+)ms")
    with open(log, "rb") as handle:
        handle.seek(since)
        times = sorted(float(m.group(1)) for m in pattern.finditer(handle.read().decode(
            errors="replace")))
    if not times:
        return {"server_replies": 0}
    def at(q):
        return round(times[min(len(times) - 1, max(0, round(q / 100 * len(times)) - 1))], 1)
    return {"server_replies": len(times), "server_p50_ms": at(50), "server_p95_ms": at(95),
            "server_p99_ms": at(99)}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measured(pid: int, send, hub_pid: int | None = None) -> tuple[Spike, dict]:
    """``send()`` (a spike) with the CPU seconds process ``pid`` spent meanwhile and the load
    average before and after; beside it, per acknowledged hand-in, the CPU of this process
    (the client's threads) and of the hub (``hub_pid``: it answers every hand-in's token), the
    rest of what the two cores carried."""
    load_before, (user_before, system_before) = load_average(), process_cpu_seconds(pid)
    threads_before = thread_cpu_seconds(pid)
    client_before = sum(process_cpu_seconds(os.getpid()))
    hub_before = sum(process_cpu_seconds(hub_pid)) if hub_pid else 0.0
    spike = send()
    user, system = process_cpu_seconds(pid)
    threads = thread_cpu_seconds(pid)
    client = sum(process_cpu_seconds(os.getpid())) - client_before
    hub = sum(process_cpu_seconds(hub_pid)) - hub_before if hub_pid else None
    user, system = user - user_before, system - system_before
    cpu, acked = user + system, len(spike.receipts)
    by_thread = {}  # [user, system] ms per acknowledged hand-in; "main": the event loop
    for tid, (name, thread_user, thread_system) in threads.items():
        _, was_user, was_system = threads_before.get(tid, (name, 0.0, 0.0))
        used = thread_user - was_user, thread_system - was_system
        if acked and sum(used) > 0:
            by_thread[name if name not in by_thread else f"{name} {tid}"] = [
                round(1000 * used[0] / acked, 3), round(1000 * used[1] / acked, 3)]
    return spike, {"cpu_s": round(cpu, 2), "cpu_user_s": round(user, 2),
                   "cpu_system_s": round(system, 2),
                   "cpu_ms_per_ack": round(1000 * cpu / acked, 3) if acked else None,
                   "cpu_ms_per_ack_by_thread": by_thread,  # [user, system]
                   "client_cpu_ms_per_ack": round(1000 * client / acked, 3) if acked else None,
                   **({"hub_cpu_ms_per_ack": round(1000 * hub / acked, 3) if acked else None}
                      if hub is not None else {}),
                   "load_before": load_before, "load_after": load_average()}


# -- the baseline: the least a hand-in can cost (decode, write, one fsync), nothing checked ----
def serve_baseline(folder: Path, port: int) -> None:
    """A minimal tornado app for the spike's uploads: no auth, no gradebook, no checks; each
    hand-in's files are decoded, written into a folder of their own and fsynced once."""
    import asyncio
    import hashlib
    import itertools
    import logging

    from tornado import web

    logging.basicConfig(filename=folder.parent / "baseline.log", level=logging.INFO)

    counter = itertools.count()

    class Upload(web.RequestHandler):
        def post(self, course_id, assignment_id):
            files = {name: base64.b64decode(text)
                     for name, text in json.loads(self.request.body)["files"].items()}
            target = folder / f"{next(counter):06d}"
            target.mkdir()
            for name, content in files.items():
                fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, content)
                    if name == max(files):  # one fsync per hand-in
                        os.fsync(fd)
                finally:
                    os.close(fd)
            self.set_status(201)
            self.finish({"folder": target.name, "sha256": hashlib.sha256(
                b"".join(files[n] for n in sorted(files))).hexdigest()})

    class Health(web.RequestHandler):
        def get(self):
            self.finish({"status": "ok"})

    async def run():
        app = web.Application([(r"/base/api/courses/([^/]+)/submissions/([^/]+)", Upload),
                               (r"/base/health", Health)])
        app.listen(port, "127.0.0.1", max_body_size=100 * 1024 * 1024)
        await asyncio.Event().wait()

    asyncio.run(run())


def check_baseline(folder: Path, receipts: list[dict]) -> list[str]:
    problems = []
    for ack in receipts:
        target = folder / ack["folder"]
        stored = {p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir() else {}
        if stored != ack["sent"]:
            problems.append(f"baseline {ack['folder']}: stored files differ from what was sent")
    return problems


def start_baseline(folder: Path) -> tuple[subprocess.Popen, str]:
    from devhub.localhub import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-baseline",
                             str(folder), "--port", str(port)], cwd=REPO)
    url = f"http://127.0.0.1:{port}/base/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "health", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the baseline handler did not start")


def exchange_pid(hub) -> int:
    """The hub-managed exchange service's process."""
    import psutil

    for child in psutil.Process(hub.proc.pid).children(recursive=True):
        cmdline = child.cmdline()
        if "exchange" in cmdline and "serve" in cmdline:
            return child.pid
    raise RuntimeError("no exchange process under the hub")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--baseline", action="store_true",
                        help="also send the same uploads to a minimal handler: cost_ratio")
    parser.add_argument("--serve-baseline", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        serve_baseline(Path(args.serve_baseline), args.port)
        return 0
    if min(args.submissions, args.students, args.workers) < 1 or args.window <= 0:
        parser.error("--submissions, --students and --workers must be at least 1, --window > 0")
    import secrets

    from devhub.hubcourse import build_hub_course

    sys.path.insert(0, str(REPO / "tests"))  # hub_doubles: the hub with an admin service
    from hub_doubles import ScriptedHub as LocalHub

    students = [(f"s{i:03d}", "Student", str(i)) for i in range(1, args.students + 1)]
    admin = secrets.token_hex(16)
    out: dict = {"submissions": args.submissions, "students": args.students,
                 "window_s": args.window, "workers": args.workers, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="spike-") as tmp:
        course_file = build_hub_course(Path(tmp) / "course", students=students, release="copy")
        hub = LocalHub(course_file, Path(tmp) / "hub", password="spike-password",
                       admin_token=admin)
        hub.start(timeout=300)  # a loaded machine
        try:
            hub.wait_for(hub.exchange_url + "health")
            with ThreadPoolExecutor(8) as pool:  # 1,000 tokens one by one: minutes
                ids = [sid for sid, _first, _last in students]
                tokens = dict(zip(ids, pool.map(hub.token_for, ids), strict=True))
            (notebook,) = sorted((course_file.parent / "assignments" / "01-numpy")
                                 .glob("*.ipynb"))

            def spike_to(url):
                return lambda: run_spike(url, "dl-hub", "01-numpy", tokens, notebook.name,
                                         notebook.read_bytes(), submissions=args.submissions,
                                         window=args.window, workers=args.workers)

            def baseline(name: str) -> dict:
                """The same clients and schedule against the minimal handler, while the
                exchange idles."""
                folder = Path(tmp) / name
                folder.mkdir()
                log = folder.parent / "baseline.log"  # both runs' handlers append to it
                since = log.stat().st_size if log.exists() else 0
                proc, url = start_baseline(folder)
                try:
                    base, base_cpu = measured(proc.pid, spike_to(url))
                finally:
                    proc.terminate()
                    proc.wait(30)
                return {**base.summary(), **base_cpu,
                        **server_latencies(log, "/base/api/", since),
                        "stored_problems": check_baseline(folder, base.receipts)}

            # the exchange's run bracketed by two of the handler's: the machine drifts within
            # a run (the handler alone swings by a quarter between runs), and their mean is
            # closer to the machine the exchange ran on than either
            bases = [baseline("baseline")] if args.baseline else []
            pid = exchange_pid(hub)
            log_start = hub.log_path.stat().st_size
            spike, cpu = measured(pid, spike_to(hub.exchange_url), hub_pid=hub.proc.pid)
            cpu.update(server_latencies(hub.log_path, "/services/exchange/api/", log_start))
            problems = check_stored(course_file.parent, spike.receipts)
            if args.baseline:
                bases.append(baseline("baseline-after"))
        finally:
            hub.stop()
    out["exchange"] = {**spike.summary(), **cpu, "stored_problems": problems}
    failed = bool(problems or spike.errors)
    if args.baseline:
        out["baseline"], out["baseline_after"] = bases
        each = [b["cpu_ms_per_ack"] for b in bases]
        mean = statistics.fmean(each) if all(each) else None
        out["baseline_cpu_ms_per_ack"] = round(mean, 3) if mean else None
        out["baseline_swing"] = round((max(each) - min(each)) / mean, 2) if mean else None
        out["cost_ratio"] = (round(cpu["cpu_ms_per_ack"] / mean, 2)
                             if cpu["cpu_ms_per_ack"] and mean else None)
        failed = failed or any(b["stored_problems"] or b["errors"] > 0 for b in bases)
    print(json.dumps(out, indent=2))
    print(f"deadline spike: {args.submissions} submissions from {args.students} students in "
          f"{args.window:g} s: p50 {spike.percentile(50) * 1000:.0f} ms, "
          f"p99 {spike.percentile(99) * 1000:.0f} ms, {cpu['cpu_ms_per_ack']} CPU-ms each"
          + (f", cost_ratio {out['cost_ratio']}" if args.baseline else "")
          + f"; {len(problems)} storage problems; load {cpu['load_before']} -> "
          f"{cpu['load_after']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""How long a deadline's grading takes, per worker count: a sizing model for the fleet.

A deadline of N courses x 150 students on the seed fleet (10 servers x 8 GPUs). Each course's
assignment due now is a CPU one (graded on the ``cpu`` queue) or a GPU one (``gpu`` queue).
Hand-ins arrive clustered before the deadline (the i-th of n at the i-th quantile of an
exponential distribution with mean ``--spread-min`` minutes before it). The deadline sweep
(``course worker --beat``, every minute) sends each on-time hand-in once the deadline has
passed, at the first sweep at or after it; ``--grade-on-arrival`` sends each as it arrives
instead (for comparison). Each queue is FIFO: a job goes to the first free worker (slot) of its
queue. Printed: per worker count, the time from the deadline to "all graded", per queue; the
whole deadline is graded when both queues are.

Per-job times: the CPU assignments' are measured here (``autograder.check_graders``: the wall
time per graded submission of each assignment's reference and mutants, sandbox included), unless
``--cpu-seconds`` gives them. The GPU assignments' time is a parameter (``--gpu-seconds``,
default ``GPU_SECONDS``): NOT measured, no GPU machine was available; measure one on a GPU
worker (``benchmarks/grading.py`` there) and pass it. Not modelled: a worker's start (a KEDA
scale-up's pod start), the gradebook's writes under contention, retries.

    .venv/bin/python benchmarks/fleet_sizing.py --courses 1 4 8 --json
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STUDENTS = 150
SERVERS, GPUS_PER_SERVER, CORES_PER_SERVER = 10, 8, 24  # the seed fleet (deploy/README.md)
GPU_SECONDS = 120.0  # a TensorFlow assignment on one GPU: an assumption, not a measurement
SWEEP_EVERY_S = 60.0  # course.fleet.app.SWEEP_EVERY
CPU_ASSIGNMENTS = ("01-numpy", "02-linreg", "06-mlp", "13-perceptron")  # no TensorFlow
CPU_SLOTS = (4, 8, 16, 24, 48, 96, 240)  # cpu queue: jobs at once (cores of the cpu workers)
GPU_WORKERS = (4, 8, 16, 32, 80)  # gpu queue: one worker per GPU


@dataclass(frozen=True)
class Job:
    queue: str  # cpu | gpu
    sent_s: float  # when the sweep sends it, seconds from the deadline
    seconds: float  # its grading time on one worker (slot)


@dataclass(frozen=True)
class QueueResult:
    courses: int
    queue: str
    workers: int
    jobs: int
    all_graded_s: float  # from the deadline to the last job's end
    median_graded_s: float  # from the deadline to the median job's end
    longest_wait_s: float  # the longest a job waited on the queue


def arrivals(n: int, spread_s: float) -> list[float]:
    """Hand-in times, seconds from the deadline (negative: before it): the quantiles
    (i + 0.5) / n of an exponential distribution of mean ``spread_s`` before the deadline, so
    most come in its last minutes. Deterministic: a sizing table must not move between runs."""
    return sorted(-spread_s * -math.log(1 - (i + 0.5) / n) for i in range(n))


def sent_at(arrived_s: float, *, on_arrival: bool, sweep_every_s: float = SWEEP_EVERY_S) -> float:
    """When a hand-in's grading job is sent: as it arrives, or by the first sweep at or after
    the deadline (sweeps run at whole multiples of ``sweep_every_s`` from the deadline)."""
    if on_arrival:
        return arrived_s
    return math.ceil(max(arrived_s, 0.0) / sweep_every_s) * sweep_every_s


def deadline_jobs(courses: int, *, gpu_courses: int, students: int, handed_in: float,
                  cpu_seconds: list[float], gpu_seconds: float, spread_s: float,
                  on_arrival: bool) -> list[Job]:
    """The jobs of one deadline: course i < gpu_courses hands in a GPU assignment, the others a
    CPU one (taking the measured assignments' times in turn)."""
    n = round(students * handed_in)
    jobs = []
    for course in range(courses):
        gpu = course < gpu_courses
        seconds = gpu_seconds if gpu else cpu_seconds[(course - gpu_courses) % len(cpu_seconds)]
        for arrived in arrivals(n, spread_s):
            jobs.append(Job("gpu" if gpu else "cpu", sent_at(arrived, on_arrival=on_arrival),
                            seconds))
    return jobs


def simulate(jobs: list[Job], workers: int) -> tuple[float, float, float]:
    """One queue's FIFO with ``workers`` identical workers: each job, in the order sent, starts
    on the first worker free (or when it is sent). Returns (last end, median end, longest
    wait), seconds from the deadline; zeros for no jobs."""
    if workers < 1:
        raise ValueError("a queue needs at least one worker")
    if not jobs:
        return 0.0, 0.0, 0.0
    free = [float("-inf")] * workers  # when each worker is next free
    ends, longest_wait = [], 0.0
    for job in sorted(jobs, key=lambda j: j.sent_s):
        start = max(job.sent_s, heapq.heappop(free))
        longest_wait = max(longest_wait, start - job.sent_s)
        ends.append(start + job.seconds)
        heapq.heappush(free, ends[-1])
    ends.sort()
    return ends[-1], ends[(len(ends) - 1) // 2], longest_wait


def size(courses: int, jobs: list[Job], counts: dict[str, tuple[int, ...]]) -> list[QueueResult]:
    results = []
    for queue, options in counts.items():
        queued = [j for j in jobs if j.queue == queue]
        for workers in options:
            last, median, wait = simulate(queued, workers)
            results.append(QueueResult(courses, queue, workers, len(queued), round(last, 1),
                                       round(median, 1), round(wait, 1)))
    return results


def measure_cpu_seconds(assignments: tuple[str, ...]) -> dict[str, float]:
    """Wall seconds per graded submission of each assignment, graded here in the sandbox."""
    from autograder.check_graders import check_assignment

    measured = {}
    for name in assignments:
        check = check_assignment(REPO / "assignments" / name)
        if check.problems:
            raise SystemExit(f"{name}: its graders do not check cleanly: {check.problems}")
        measured[name] = round(check.seconds, 2)
    return measured


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--courses", type=int, nargs="+", default=[1, 4, 8, 16],
                   help="courses sharing the deadline (each a row group)")
    p.add_argument("--students", type=int, default=STUDENTS)
    p.add_argument("--handed-in", type=float, default=1.0, help="fraction who hand in")
    p.add_argument("--gpu-fraction", type=float, default=0.5,
                   help="fraction of the courses whose assignment due is a GPU one")
    p.add_argument("--spread-min", type=float, default=60.0,
                   help="mean minutes before the deadline that hand-ins arrive")
    p.add_argument("--gpu-seconds", type=float, default=GPU_SECONDS,
                   help=f"grading time of one GPU submission (default {GPU_SECONDS:g}: assumed, "
                   "not measured)")
    p.add_argument("--cpu-seconds", type=float, nargs="+",
                   help="grading times of CPU submissions (default: measured here)")
    p.add_argument("--measure", nargs="+", default=list(CPU_ASSIGNMENTS),
                   help="the CPU assignments whose grading time is measured")
    p.add_argument("--cpu-slots", type=int, nargs="+", default=list(CPU_SLOTS))
    p.add_argument("--gpu-workers", type=int, nargs="+", default=list(GPU_WORKERS))
    p.add_argument("--grade-on-arrival", action="store_true",
                   help="send each job as it arrives, not at the deadline's sweep")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    args = p.parse_args(argv)
    if not 0 <= args.gpu_fraction <= 1 or not 0 < args.handed_in <= 1:
        p.error("--gpu-fraction is in [0, 1], --handed-in in (0, 1]")
    if min(args.cpu_slots + args.gpu_workers) < 1 or min(args.courses) < 1:
        p.error("worker and course counts are at least 1")
    if args.cpu_seconds:
        if min(args.cpu_seconds) <= 0:
            p.error("--cpu-seconds are positive")
        measured, cpu_seconds = None, list(args.cpu_seconds)
    else:
        measured = measure_cpu_seconds(tuple(args.measure))
        cpu_seconds = list(measured.values())
    results = []
    for courses in args.courses:
        jobs = deadline_jobs(courses, gpu_courses=round(courses * args.gpu_fraction),
                             students=args.students, handed_in=args.handed_in,
                             cpu_seconds=cpu_seconds, gpu_seconds=args.gpu_seconds,
                             spread_s=args.spread_min * 60, on_arrival=args.grade_on_arrival)
        results += size(courses, jobs, {"cpu": tuple(args.cpu_slots),
                                        "gpu": tuple(args.gpu_workers)})
    report = {
        "fleet": {"servers": SERVERS, "gpus": SERVERS * GPUS_PER_SERVER,
                  "cores": SERVERS * CORES_PER_SERVER},
        "students_per_course": args.students, "handed_in": args.handed_in,
        "gpu_fraction": args.gpu_fraction, "spread_min": args.spread_min,
        "sent": "on arrival" if args.grade_on_arrival else "by the sweep after the deadline",
        "cpu_seconds": {"values": cpu_seconds, "measured": measured,
                        "source": "measured here (check_graders, this machine)" if measured
                        else "given (--cpu-seconds)"},
        "gpu_seconds": {"value": args.gpu_seconds, "measured": False,
                        "source": "assumed: no GPU machine was available to measure it"},
        "results": [asdict(r) for r in results]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"per-job times: cpu {cpu_seconds} s ({report['cpu_seconds']['source']}); "
          f"gpu {args.gpu_seconds:g} s ({report['gpu_seconds']['source']})")
    for courses in args.courses:
        print(f"\n{courses} course(s) x {args.students} students, "
              f"{round(courses * args.gpu_fraction)} on GPU assignments ({report['sent']})")
        for r in (r for r in results if r.courses == courses):
            print(f"  {r.queue} x {r.workers:>4}: {r.jobs:>5} jobs, all graded "
                  f"{_minutes(r.all_graded_s):>10} after the deadline (median "
                  f"{_minutes(r.median_graded_s)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``course worker`` (a Celery worker of the grading fleet) and ``course queue`` (what is queued,
running, done and failed, per assignment, queue and worker)."""

from __future__ import annotations

import importlib
import json
import os
import re
import socket

from autograder.settings import QUEUE_NAME as QUEUE_NAME_PATTERN
from commands.console import DISCOVERY, wide_console
from commands.console import workspace as _workspace
from course.errors import UserError

__all__ = ["add_fleet_commands", "cmd_sweep", "default_worker_name", "doctor_fleet",
           "node_name_taken", "queue_state", "unattended", "worker_courses", "worker_gpu"]


QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
WORKER_COURSES = "COURSE_WORKER_COURSES"  # a container's --course list, files joined by ':'


def worker_course_files(named: list[str] | None, environ=os.environ) -> list[str]:
    """The course files a worker was given: its ``--course`` options, else
    ``$COURSE_WORKER_COURSES`` (files separated by ``os.pathsep``). Never a job's."""
    if named:
        return list(named)
    return [path for path in environ.get(WORKER_COURSES, "").split(os.pathsep) if path.strip()]


def worker_courses(named: list[str] | None, environ=os.environ) -> list[str]:
    """The course files a worker grades: ``worker_course_files``, else the one course file found
    as every command finds it (``$COURSE_FILE``, else course.yml here or in a parent folder)."""
    from course.locate import find_course_file

    return worker_course_files(named, environ) or [str(find_course_file(environ=environ))]


def default_worker_name(queue: str, gpu: str | None, *, pid: int | None = None,
                        host: str | None = None) -> str:
    """``cpu-PID@HOST`` or ``gpuN-PID@HOST``: Celery's node name, unique to this process on
    this machine. Two workers of one name clash: a node's pidbox queue (remote control) is
    exclusive, and the second worker's declaration of it fails."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    if queue == "gpu":
        kind = f"gpu{gpu}"
    else:  # cpu, or a named queue (a GPU worker of it says which device)
        kind = queue + (f"-gpu{gpu}" if gpu is not None else "")
    return f"{kind}-{pid}@{host}"


def node_name_taken(app, name: str) -> bool:
    """Whether a worker of this Celery node name is connected to ``app``'s broker now: its
    pidbox queue (remote control; exclusive, so deleted with its connection) exists. False when
    the broker does not answer: the worker then waits for it as Celery always does."""
    from amqp.exceptions import AMQPError, NotFound, ResourceLocked
    from kombu.exceptions import KombuError

    queue = app.control.mailbox.get_queue(name).name
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            try:
                declared = channel.queue_declare(queue, passive=True)
            finally:
                conn.maybe_close_channel(channel)
    except ResourceLocked:  # exclusive to the connection of a live worker of that name
        return True
    except NotFound:  # no worker of that name
        return False
    except (OSError, KombuError, AMQPError):
        return False
    return bool(getattr(declared, "consumer_count", 0))


def worker_broker(courses: dict[str, str]) -> str:
    """``$COURSE_BROKER_URL``, else the one broker the worker's courses name."""
    from course.fleet.app import broker_url
    from course.settings import resolve_grading
    from course.workspace import open_workspace

    if os.environ.get("COURSE_BROKER_URL"):
        return broker_url(None)
    brokers = {resolve_grading(open_workspace(path).course, None).values.broker
               for path in courses.values()} - {None, ""}
    if len(brokers) > 1:
        raise UserError(f"the courses {', '.join(sorted(courses))} name different brokers in "
                        "grading.broker: a worker connects to one (set $COURSE_BROKER_URL)")
    return brokers.pop() if brokers else broker_url(None)


def worker_gpu(spec: str, environ=os.environ):
    """``--gpu``'s GPU, found in the driver's /proc (``$COURSE_WORKER_PROC_ROOT``, else /proc),
    and checked: TensorFlow, in a subprocess, sees exactly it, or the worker does not start.
    ``$COURSE_WORKER_GPU_CHECK=off`` skips only that check (CI has no GPU)."""
    from course.fleet.gpus import find_gpu, require_tensorflow_sees, tensorflow_bus_ids

    gpu = find_gpu(spec, environ.get("COURSE_WORKER_PROC_ROOT") or "/proc")
    if environ.get("COURSE_WORKER_GPU_CHECK") == "off":
        print(f"GPU {gpu.uuid} (/dev/nvidia{gpu.minor}, PCI {gpu.bus}): TensorFlow's check "
              "skipped ($COURSE_WORKER_GPU_CHECK=off)", flush=True)
    else:
        require_tensorflow_sees(gpu, tensorflow_bus_ids(gpu))
        print(f"GPU {gpu.uuid} (/dev/nvidia{gpu.minor}, PCI {gpu.bus}): TensorFlow sees it",
              flush=True)
    return gpu


def cmd_worker(args) -> int:
    from celery.signals import worker_process_init

    from course.fleet.app import make_app
    from course.fleet.jobs import resolve_courses
    from course.grade import default_workers
    from course.grade_one import WORKER_MODULES, prepare_worker
    from course.sweep import sweep_course
    from course.workspace import open_workspace

    # the courses this worker grades, read once now: course id -> course file. A job names its
    # course by id; one of any other course is refused (a path in a message is never opened)
    courses = resolve_courses(worker_courses(args.course))
    queue = args.queue or ("gpu" if args.gpu is not None else "cpu")
    if not QUEUE_NAME.fullmatch(queue):
        raise UserError(f"--queue {queue!r}: a queue name is lower-case letters, digits, - and _ "
                        "(as grading.queue)")
    if queue == "gpu" and args.gpu is None:
        raise UserError("a gpu worker needs --gpu N: the device it grades on")
    if queue == "cpu" and args.gpu is not None:
        raise UserError("--gpu is for gpu workers (--queue gpu, or a named queue of GPUs)")
    if args.gpu is not None:
        if args.concurrency not in (None, 1):
            raise UserError("a gpu worker grades one job at a time (--concurrency 1)")
        concurrency = 1
        gpu = worker_gpu(args.gpu)
        # the grader side sees only its GPU, by UUID (CUDA's default order is fastest-first,
        # not the device nodes'); the sandbox gets /dev/nvidia<minor> (course.fleet.jobs)
        os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu.uuid
        os.environ["COURSE_WORKER_GPU_MINOR"] = str(gpu.minor)
    else:
        os.environ.pop("COURSE_WORKER_GPU_MINOR", None)  # no device node of an inherited one
        if queue != "cpu":  # a named queue without --gpu: its sandboxes see no GPU
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        concurrency = args.concurrency or default_workers()
    os.environ["COURSE_WORKER_QUEUE"] = queue  # read by the jobs in the pool's processes
    name = args.name or default_worker_name(queue, None if args.gpu is None else
                                            os.environ["COURSE_WORKER_GPU_MINOR"])
    app = make_app(worker_broker(courses), courses=courses, beat=args.beat,
                   sweep=sweep_course, queues=(queue,))
    if node_name_taken(app, name):
        raise UserError(f"a worker named {name} is connected to the broker already: two workers "
                        "of one name clash (Celery's remote-control queue of a name is "
                        "exclusive); give this one another --name")
    # the pool's processes are forked from this one (and keep its app, with these courses):
    # import the grading code once, here, and each process starts its warm grading process as
    # it starts, not at its first job
    for module in WORKER_MODULES:
        importlib.import_module(module)
    worker_process_init.connect(lambda **_: prepare_worker(), weak=False)
    argv = ["worker", "-Q", queue, "-c", str(concurrency), "-n", name, "-P", "prefork",
            "--loglevel", args.loglevel, "--without-mingle", "--without-gossip"]
    if args.beat:  # its schedule file beside the first course's file
        first = open_workspace(courses[next(iter(courses))])
        argv += ["-B", "-s", str(first.root / ".deadline-sweep-schedule")]
    print(f"grading the courses {', '.join(f'{cid} ({path})' for cid, path in courses.items())}"
          f"{' and sweeping their deadlines' if args.beat else ''}", flush=True)
    app.worker_main(argv)
    return 0


def cmd_sweep(args) -> int:
    """One deadline sweep of every course the fleet serves (a cron job's or a CronJob's):
    a line per course; exit 1 when any course's sweep failed, after sweeping the others."""
    from commands.console import judged_at
    from course.sweep import sweep_every_course

    results = sweep_every_course(worker_courses(args.course), lambda course: judged_at(args,
                                                                                       course))
    for result in results:
        if result.error:
            print(f"{result.course}: sweep FAILED: {result.error}", flush=True)
        elif result.started:
            print(f"{result.course}: sent " + "; ".join(
                f"{aid}: {', '.join(students)}" for aid, students in result.started.items()),
                flush=True)
        else:
            print(f"{result.course}: nothing due", flush=True)
    return 1 if any(result.error for result in results) else 0


def queue_state(ws) -> dict:
    """Per assignment: rows queued, running, done (success) and failed (error, unreadable)
    by the current graders; per queue: jobs waiting on the broker (``queues``) and the workers
    taking from it (``consumers``); per worker: what it runs now and has finished since it
    started (Celery's own counters). Broker parts are None when the course grades locally or the
    broker cannot be reached. ``warnings``: jobs no one grades (a queue with jobs and no
    consumer; rows running on a worker that no longer answers), in words."""
    from sqlalchemy import func, select

    from course.fleet.app import QUEUES, TASK, broker_url, make_app
    from course.gradebook import GradingRun
    from course.release import folder_checksum
    from course.settings import resolve_grading

    kinds = {"queued": "queued", "running": "running", "success": "done", "error": "failed",
             "unreadable": "failed"}
    assignments: dict[str, dict[str, int]] = {}
    running_on: dict[str, int] = {}
    with ws.gradebook() as gb:
        for assignment in ws.course.assignments:
            counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
            source = ws.source / assignment.id
            if source.is_dir():
                query = (select(GradingRun.outcome, func.count()).filter_by(
                    assignment_id=assignment.id, grader_version=folder_checksum(source)[:16])
                    .group_by(GradingRun.outcome))
                for outcome, count in gb.session.execute(query):
                    counts[kinds.get(outcome, "failed")] += count
            assignments[assignment.id] = counts
        for message in gb.session.scalars(select(GradingRun.message).filter_by(
                outcome="running")):
            worker = message.removeprefix("on ")
            running_on[worker] = running_on.get(worker, 0) + 1
    state = {"assignments": assignments, "queues": None, "consumers": None, "workers": None,
             "warnings": []}
    try:
        url = broker_url(ws)
    except UserError:
        return state
    from kombu.exceptions import KombuError  # Celery's: every command builds this parser

    named = tuple(dict.fromkeys(resolve_grading(ws.course, assignment.id).values.queue
                                for assignment in ws.course.assignments))
    app = make_app(url, queues=named)
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            declared = {name: channel.queue_declare(name, durable=True, auto_delete=False)
                        for name in dict.fromkeys([*QUEUES, *named])}
        state["queues"] = {name: ok.message_count for name, ok in declared.items()}
        state["consumers"] = {name: ok.consumer_count for name, ok in declared.items()}
        inspect = app.control.inspect(timeout=1.0)
        stats, active = inspect.stats() or {}, inspect.active() or {}
        state["workers"] = {
            name: {"running": len(active.get(name, [])),
                   "done": (stats.get(name, {}).get("total") or {}).get(TASK, 0),
                   "running_in_gradebook": running_on.get(name, 0)}
            for name in sorted(set(stats) | set(active))}
    except (OSError, KombuError) as exc:
        state["broker_error"] = f"{type(exc).__name__}: {exc}"
    finally:
        app.close()
    state["warnings"] = unattended(state, running_on)
    return state


def unattended(state: dict, running_on: dict[str, int]) -> list[str]:
    """Jobs no worker grades, in words: a queue holding jobs with no consumer (no worker
    started on it, or every one of them stopped), and gradebook rows running on a worker that
    does not answer (killed mid-job: its job goes back to the queue once the broker notices)."""
    warnings = []
    for name, waiting in (state["queues"] or {}).items():
        if waiting and not (state["consumers"] or {}).get(name):
            warnings.append(f"queue {name}: {waiting} job(s) waiting and no worker takes them "
                            f"(no consumer): start one with `course worker --queue {name}`, or "
                            "restart the stopped worker (docker compose ... up -d)")
    if state["workers"] is not None:
        for worker, count in sorted(running_on.items()):
            if worker and worker not in state["workers"]:
                warnings.append(f"{count} grading(s) shown running on {worker}, which does not "
                                "answer: that worker is gone; its jobs wait on the broker until "
                                "a worker takes them")
    return warnings


def doctor_fleet(args) -> None:
    """``course doctor``'s line on the grading backend: local, or celery and whether its broker
    answers (its password masked). Silent where no course file is found."""
    from course.coursefile import CourseFileError
    from course.fleet.app import broker_url, make_app
    from course.settings import resolve_grading, shown_broker

    try:
        ws = _workspace(args)
    except (CourseFileError, UserError, OSError):
        return
    if resolve_grading(ws.course, None).values.backend != "celery" and not any(
            resolve_grading(ws.course, a.id).values.backend == "celery"
            for a in ws.course.assignments):
        print("grading backend: local (a process pool on this machine)")
        return
    try:
        url = broker_url(ws)
    except UserError as exc:
        print(f"grading backend: celery, but {exc}")
        return
    from kombu.exceptions import KombuError

    app = make_app(url)
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
        state = "answers"
    except (OSError, KombuError) as exc:
        state = f"does not answer ({type(exc).__name__}: {exc})"
    finally:
        app.close()
    print(f"grading backend: celery; broker {shown_broker(url)} {state}")


def cmd_queue(args) -> int:
    from rich.table import Table

    ws = _workspace(args)
    state = queue_state(ws)
    if args.format == "json":
        print(json.dumps(state, indent=2))
        return 0
    console = wide_console()
    table = Table(title="grading by assignment (current graders)")
    for column in ("assignment", "queued", "running", "done", "failed"):
        table.add_column(column)
    for assignment_id, counts in state["assignments"].items():
        table.add_row(assignment_id, *(str(counts[k]) for k in ("queued", "running", "done",
                                                                 "failed")))
    console.print(table)
    if state["queues"] is not None:
        console.print("waiting on the broker: " + ", ".join(
            f"{name} {count}" for name, count in state["queues"].items()), highlight=False)
    if state["consumers"] is not None:
        console.print("workers taking from it: " + ", ".join(
            f"{name} {count}" for name, count in state["consumers"].items()), highlight=False)
    if state.get("broker_error"):
        console.print(f"broker unreachable: {state['broker_error']}", highlight=False)
    if state["workers"] is not None:
        table = Table(title="workers")
        for column in ("worker", "running", "done since it started"):
            table.add_column(column)
        for name, counts in state["workers"].items():
            table.add_row(name, str(counts["running"]), str(counts["done"]))
        console.print(table)
    for warning in state["warnings"]:
        console.print(f"! {warning}", highlight=False)
    return 0


def add_fleet_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("worker", cmd_worker, "run a Celery worker of the grading fleet (grading.backend: "
            "celery)", own_course=True)
    p.add_argument("--course", metavar="FILE", action="append",
                   help="a course file (or its folder) this worker grades; repeat it for each "
                   "course. Jobs and sweeps of any other course are refused. Default: "
                   f"${WORKER_COURSES} (files separated by '{os.pathsep}'), else {DISCOVERY}")
    p.add_argument("--queue", metavar="NAME",
                   help="the named queue it takes jobs from: cpu, gpu, or one an assignment names "
                   "(grading.queue; default: gpu with --gpu, else cpu)")
    p.add_argument("--gpu", metavar="N", help="the GPU it grades on (one job at a time): its "
                   "device minor N (/dev/nvidiaN), its UUID (GPU-...), or 'visible' (the one GPU "
                   "of this container); TensorFlow must see exactly it, or the worker does not "
                   "start. Required on the gpu queue, allowed on a named one")
    p.add_argument("--concurrency", type=int, metavar="K",
                   help="jobs at once on a cpu worker (default: the cores)")
    p.add_argument("--name", help="worker name, unique in the fleet (default: cpu-PID@HOST, "
                   "gpuN-PID@HOST or QUEUE-PID@HOST)")
    p.add_argument("--beat", action="store_true",
                   help="also run the deadline sweep of each of its courses every minute: "
                        "submissions are graded when each student's deadline passes (one "
                        "worker per fleet)")
    p.add_argument("--loglevel", default="INFO")
    p = add("sweep", cmd_sweep, "the deadline sweep, once, of every course the fleet serves: "
            "collects and grades (sends) what each passed deadline closed; exit 1 when any "
            "course's sweep failed (the others are swept all the same)", own_course=True)
    p.add_argument("--course", metavar="FILE", action="append",
                   help="a course file (or its folder) to sweep; repeat it for each course. "
                   f"Default: ${WORKER_COURSES}, else {DISCOVERY}")
    p.add_argument("--as-of", metavar="DATETIME", help="sweep as at this local time, in each "
                   "course's zone (default: now)")
    p = add("queue", cmd_queue, "what is queued, running, done and failed, per assignment "
            "and worker")
    p.add_argument("--format", choices=["table", "json"], default="table")

"""Grading on the fleet, with real parts on 127.0.0.1: a RabbitMQ node and PostgreSQL started
here, two Celery workers (``course worker --course``) in processes of their own, and a GPU
worker for the routing test. Each fault (a worker SIGKILLed mid-grading, the broker restarted,
the database restarted) ends with every submission graded exactly once. The workers grade the
one course they were given (its folder, rewritten by each test); a message naming any other
course file is refused."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from fake_nvidia import fake_nvidia_proc
from postgres_server import PostgresServer
from rabbitmq_server import RabbitServer, available
from small_courses import REPO, create_gradebook

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="rabbitmq-server is not installed "
                                 "(scripts/install-system-deps.sh installs it)")]

SOURCE = REPO / "assignments" / "01-numpy"
DUE = dt.datetime(2026, 11, 1, 17, 0, tzinfo=dt.UTC)  # 18:00 Berlin
WORKER_START_S = 60
TIMINGS = Path(os.environ.get("FLEET_TIMINGS", "/dev/null"))


def answered(overrides=None):
    src = nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)
    return answer_notebook(src, {**solution_cells(src), **(overrides or {})})


def partial():
    import json

    return answered(json.loads((SOURCE / "mutants" / "partial.json").read_text())["cells"])


class Fleet:
    """The workers of one test module, each ``course worker`` in a session of its own."""

    def __init__(self, broker: str, tmp: Path):
        self.broker, self.tmp = broker, tmp
        self.workers: dict[str, subprocess.Popen] = {}
        self.args: dict[str, list[str]] = {}
        # the workers' one course (id: fleet), resolved as they start; each test writes its
        # course here (make_fleet_course), read again by the workers at each job
        self.course_root = tmp / "course"
        self.course_root.mkdir()
        (self.course_root / "course.yml").write_text(course_text(
            f"sqlite:///{self.course_root / 'gradebook.db'}", broker, ["s0"]))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("COURSE_DB_URL", "COURSE_BROKER_URL") and not k.startswith("PYTEST_")}
        return {**env, "COURSE_BROKER_URL": self.broker}

    def start(self, name: str, *args: str, wait: bool = True,
              env: dict[str, str] | None = None) -> None:
        self.args[name] = list(args)
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the worker's, kept open
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "commands.main", "worker", "--course", str(self.course_root),
             "--name", f"{name}@test", "--loglevel", "INFO", *args],
            env={**self.env(), **(env or {})},
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=self.tmp)
        if wait:
            self.wait_ready(f"{name}@test")

    def app(self):
        from course.fleet.app import make_app

        return make_app(self.broker)

    def wait_ready(self, *names: str) -> None:
        app = self.app()
        deadline = time.monotonic() + WORKER_START_S
        try:
            while True:
                replies = app.control.inspect(timeout=0.5, destination=list(names)).ping() or {}
                if set(names) <= set(replies):
                    return
                if time.monotonic() > deadline:
                    logs = "".join((self.tmp / f"{n.split('@')[0]}.log").read_text()[-2000:]
                                   for n in names)
                    raise RuntimeError(f"workers {names} did not start:\n{logs}")
        finally:
            app.close()

    def done_by(self) -> dict[str, int]:
        """Jobs each live worker finished since it started (Celery's own counters)."""
        app = self.app()
        try:
            stats = app.control.inspect(timeout=1.0).stats() or {}
        finally:
            app.close()
        return {name.split("@")[0]: (s.get("total") or {}).get("course.grade_submission", 0)
                for name, s in stats.items()}

    def kill(self, name: str) -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait()

    def ensure(self) -> None:
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                self.start(name, *self.args[name])

    def stop(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def rabbit():
    with RabbitServer() as server:
        yield server


@pytest.fixture(scope="module")
def fleet(rabbit, tmp_path_factory):
    fleet = Fleet(rabbit.url, tmp_path_factory.mktemp("fleet"))
    try:
        fleet.start("w1", "--concurrency", "1", wait=False)
        fleet.start("w2", "--concurrency", "1", wait=False)
        fleet.wait_ready("w1@test", "w2@test")
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def live_fleet(fleet):
    fleet.ensure()
    return fleet


def course_text(db_url: str, broker: str, students: list[str], grading: str = "") -> str:
    people = "\n".join(f"    - {{id: {s}}}" for s in students)
    return (f"id: fleet\ntitle: Fleet\ntimezone: Europe/Berlin\nwithdrawal_deadline: 2026-12-01\n"
            f"gradebook: {{url: '{db_url}'}}\n"
            f"grading: {{backend: celery, broker: '{broker}'}}\n"
            f"assignments:\n  - {{id: 01-numpy, due: 2026-11-01 18:00{grading}}}\n"
            f"roster:\n  students:\n{people}\n")


def make_fleet_course(fleet, monkeypatch, db_url, broker, submissions, *, grading="",
                      received_at=DUE - dt.timedelta(hours=1), collect=True):
    """The course ``fleet`` in the folder the workers were given (``Fleet.course_root``), made
    afresh: its file, assignment and submissions."""
    import shutil

    from course.collect import collect as collect_all
    from course.inbox import receive
    from course.workspace import open_workspace

    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    monkeypatch.delenv("COURSE_BROKER_URL", raising=False)
    monkeypatch.setenv("COURSE_USER", "ina")
    root = fleet.course_root
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(SOURCE, root / "assignments" / "01-numpy")
    (root / "course.yml").write_text(course_text(db_url, broker, sorted(submissions), grading))
    create_gradebook(root)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for student, nb in submissions.items():
            receive(ws, gb, student, "01-numpy",
                    {"numpy-basics.ipynb": nbformat.writes(nb).encode()}, received_at=received_at)
    if collect:
        collect_all(ws, "01-numpy")
    return ws


def runs(ws):
    from course.gradebook import GradingRun

    with ws.gradebook() as gb:
        return gb.session.scalars(sa.select(GradingRun)).all()


def assert_graded_once(ws, expected: dict[str, float | None]):
    """One run row per submission, each a success with the expected score; nbgrader's gradebook
    agrees (``None``: a score strictly between 0 and 10)."""
    rows = runs(ws)
    assert sorted(r.student_id for r in rows) == sorted(expected)
    assert {r.outcome for r in rows} == {"success"}, [(r.student_id, r.message) for r in rows]
    with ws.gradebook() as gb:
        for row in rows:
            score = gb.nb.find_submission("01-numpy", row.student_id).score
            assert score == row.score
            want = expected[row.student_id]
            assert (0 < score < 10) if want is None else score == want


def grade_in_background(ws):
    from course.grade import grade

    box = {}

    def target():
        try:
            box["outcomes"] = grade(ws, "01-numpy")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def wait_for(condition, timeout: float, what: str, ws=None):
    """Poll ``condition`` until it holds; on a timeout say what the runs of ``ws`` were."""
    deadline = time.monotonic() + timeout
    seen: list = []
    while True:
        try:
            value = condition()
            if ws is not None:
                now = sorted((r.student_id, r.outcome, (r.message or "")[:200]) for r in runs(ws))
                if not seen or seen[-1] != now:
                    seen.append(now)
        except sa.exc.OperationalError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the runs were: {seen[-5:]}")
        time.sleep(0.05)


def finish(thread, box, timeout=240):
    thread.join(timeout)
    assert not thread.is_alive(), "grading did not finish"
    if "error" in box:
        raise box["error"]
    return {o.student_id: o for o in box["outcomes"]}


def record(line: str) -> None:
    with open(TIMINGS, "a") as out:
        out.write(line + "\n")


def test_batch_through_two_workers_with_the_progress_of_course_grade(
        monkeypatch, live_fleet, rabbit, postgres_url):
    submissions = {f"s{i}": answered() if i % 2 else partial() for i in range(4)}
    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url, submissions)
    before = live_fleet.done_by()
    done = subprocess.run([sys.executable, "-m", "commands.main", "grade", "01-numpy", "--course",
                           str(ws.root)], capture_output=True, text=True, timeout=300,
                          check=False, env={**live_fleet.env(), "COURSE_BROKER_URL": ""})
    assert done.returncode == 0, done.stderr
    assert "graded 4 of 4 submissions of 01-numpy" in done.stdout
    assert "4/4" in done.stderr  # the same progress bar as the local pool's
    assert_graded_once(ws, {s: 10.0 if int(s[1:]) % 2 else None for s in submissions})
    after = live_fleet.done_by()
    assert all(after[w] > before.get(w, 0) for w in ("w1", "w2")), (before, after)
    # graded again by the same graders: the same rows, rewritten
    again = subprocess.run([sys.executable, "-m", "commands.main", "grade", "01-numpy", "--no-wait",
                            "--course", str(ws.root)], capture_output=True, text=True,
                           timeout=300, check=False, env={**live_fleet.env(),
                                                          "COURSE_BROKER_URL": ""})
    assert again.returncode == 0, again.stderr
    wait_for(lambda: all(r.outcome == "success" for r in runs(ws)) and len(runs(ws)) == 4,
             120, "the re-grade")
    assert_graded_once(ws, {s: 10.0 if int(s[1:]) % 2 else None for s in submissions})
    shown = subprocess.run([sys.executable, "-m", "commands.main", "queue", "--format", "json",
                            "--course", str(ws.root)], capture_output=True, text=True,
                           timeout=120, check=False,
                           env={**live_fleet.env(), "COURSE_BROKER_URL": ""})
    assert shown.returncode == 0, shown.stderr
    import json

    state = json.loads(shown.stdout)
    assert state["assignments"]["01-numpy"] == {"queued": 0, "running": 0, "done": 4,
                                                "failed": 0}
    assert state["queues"] == {"cpu": 0, "gpu": 0}
    assert {"w1@test", "w2@test"} <= set(state["workers"])


def test_a_sigkilled_worker_s_job_is_graded_by_the_other(monkeypatch, live_fleet,
                                                         rabbit, postgres_url):
    submissions = {f"s{i}": answered() for i in range(4)}
    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url, submissions)
    thread, box = grade_in_background(ws)
    victim = wait_for(lambda: next((r for r in runs(ws) if r.outcome == "running"
                                    and r.message == "on w1@test"), None), 120,
                      "w1 to start a job")
    killed = time.monotonic()
    live_fleet.kill("w1")
    wait_for(lambda: next(r for r in runs(ws) if r.id == victim.id).outcome == "success", 120,
             "the killed worker's job")
    record(f"sigkill: {time.monotonic() - killed:.2f} s from SIGKILL of w1 to its job done on w2")
    outcomes = finish(thread, box)
    assert {o.outcome for o in outcomes.values()} == {"success"}
    assert_graded_once(ws, dict.fromkeys(submissions, 10.0))


def test_a_broker_restart_mid_batch_loses_nothing(monkeypatch, live_fleet, rabbit,
                                                   postgres_url):
    # six for two workers: when the first two finish together, two more still wait (with
    # four, both waiting jobs could be taken before anyone saw a result beside a queued job)
    submissions = {f"s{i}": answered() for i in range(6)}
    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url, submissions)
    thread, box = grade_in_background(ws)
    wait_for(lambda: any(r.outcome == "success" for r in runs(ws))
             and any(r.outcome == "queued" for r in runs(ws)), 120,
             "a first result while others still wait on the broker", ws)
    started = time.monotonic()
    rabbit.restart()
    outcomes = finish(thread, box)
    record(f"broker restart: batch done {time.monotonic() - started:.1f} s after the restart "
           "began")
    assert {o.outcome for o in outcomes.values()} == {"success"}
    assert_graded_once(ws, dict.fromkeys(submissions, 10.0))


def restart_postgres(server: PostgresServer) -> None:
    """Stop the server (fast shutdown: connections are cut) and start it again on its data."""
    subprocess.run(server._cmd("pg_ctl", "-D", str(server.datadir), "-m", "fast", "-w", "stop"),
                   cwd=server.tmpdir, capture_output=True, check=True)
    server._proc.wait(timeout=30)
    with open(server.logfile, "ab") as log:
        server._proc = subprocess.Popen(server._cmd("postgres", "-D", str(server.datadir)),
                                        cwd=server.tmpdir, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log)
    server._wait_ready()


def test_a_database_restart_mid_batch_loses_nothing(monkeypatch, live_fleet, rabbit):
    with PostgresServer() as server:
        submissions = {f"s{i}": answered() for i in range(4)}
        ws = make_fleet_course(live_fleet, monkeypatch, server.create_database(), rabbit.url,
                               submissions)
        thread, box = grade_in_background(ws)
        wait_for(lambda: any(r.outcome == "success" for r in runs(ws))
                 and any(r.outcome == "running" for r in runs(ws)), 120,
                 "a result and a job in progress")
        started = time.monotonic()
        restart_postgres(server)
        outcomes = finish(thread, box)
        record(f"database restart: batch done {time.monotonic() - started:.1f} s after it")
        assert {o.outcome for o in outcomes.values()} == {"success"}, {
            s: (o.outcome, o.message) for s, o in outcomes.items()}
        assert_graded_once(ws, dict.fromkeys(submissions, 10.0))


def test_a_gpu_assignment_goes_to_the_gpu_worker_with_its_device_in_the_sandbox(
        monkeypatch, live_fleet, rabbit, postgres_url, tmp_path):
    # a made-up device (CI has no GPU): the driver's /proc lists /dev/nvidia7 by its UUID, and
    # TensorFlow's start check, which would refuse it, is off (tests/fleet/test_gpus.py runs it)
    uuid = "GPU-77777777-0000-1111-2222-333333333333"
    proc = fake_nvidia_proc(tmp_path / "proc", [(3, "GPU-3", "0000:18:00.0"),
                                                (7, uuid, "0000:3b:00.0")])
    live_fleet.start("g7", "--gpu", "7", env={"COURSE_WORKER_PROC_ROOT": str(proc),
                                              "COURSE_WORKER_GPU_CHECK": "off"})
    try:
        src = nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)
        probe = ("import os\nprint('CUDA=' + os.environ['CUDA_VISIBLE_DEVICES'])\n"
                 "print('ORDER=' + os.environ['CUDA_DEVICE_ORDER'])\n"
                 + solution_cells(src)["matmul"])
        ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url,
                               {"ada": answered({"matmul": probe})},
                               grading=", grading: {queue: gpu}")
        before = live_fleet.done_by()
        from course.grade import grade

        (outcome,) = grade(ws, "01-numpy")
        assert outcome.outcome == "success" and outcome.score == 10
        after = live_fleet.done_by()
        assert after["g7"] == before.get("g7", 0) + 1
        assert all(after[w] == before[w] for w in ("w1", "w2"))
        graded = (ws.root / "autograded" / "ada" / "01-numpy" / "numpy-basics.ipynb").read_text()
        # printed inside the sandbox: its CUDA sees the GPU by UUID, in PCI order
        assert f"CUDA={uuid}" in graded and "ORDER=PCI_BUS_ID" in graded
    finally:
        process = live_fleet.workers.pop("g7")
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_submissions_are_graded_when_each_student_s_deadline_passes(
        monkeypatch, live_fleet, rabbit, postgres_url):
    from course.gradebook.records import grant_extension
    from course.sweep import due_for_grading, sweep

    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url,
                           {"ada": answered(), "ben": partial()}, collect=False)
    with ws.gradebook() as gb:
        grant_extension(gb, "ben", "01-numpy", DUE + dt.timedelta(days=2), "ill", by="ina")
        gb.session.commit()
    assert sweep(ws, now=DUE - dt.timedelta(minutes=1)) == {}
    assert sweep(ws, now=DUE + dt.timedelta(minutes=1)) == {"01-numpy": ["ada"]}
    wait_for(lambda: [r.outcome for r in runs(ws)] == ["success"], 120, "ada's grading")
    assert due_for_grading(ws, DUE + dt.timedelta(days=1)) == {}  # graded: not sent again
    assert sweep(ws, now=DUE + dt.timedelta(days=2, minutes=1)) == {"01-numpy": ["ben"]}
    wait_for(lambda: sorted(r.outcome for r in runs(ws)) == ["success", "success"], 120,
             "ben's grading")
    assert_graded_once(ws, {"ada": 10.0, "ben": None})


def test_a_worker_grades_its_own_course_from_its_own_file_whatever_a_message_names(
        monkeypatch, live_fleet, rabbit, postgres_url):
    """A student's course file (the sandbox off, a gradebook of its own) lies in their
    submission on the workers' folder. A job naming it for another course is refused by the
    worker (one log line, rejected: not delivered again) and grades nothing; a job of the
    workers' course that carries its path is graded from the workers' own course file."""
    from course.fleet.app import TASK
    from course.fleet.jobs import Job
    from course.grade import grade
    from course.gradebook import GradingRun

    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url, {"ada": answered()})
    (graded,) = grade(ws, "01-numpy")  # on the fleet, as sent by course grade
    assert graded.outcome == "success"
    folder = ws.root / "submitted" / "ada" / "01-numpy"
    handed_in = folder / "course.yml"
    handed_in.write_text(course_text(f"sqlite:///{folder / 'gradebook.db'}", rabbit.url, ["ada"])
                         .replace("id: fleet", "id: evil")
                         .replace("grading: {", "grading: {isolation: none, "))
    handed = sorted(p.name for p in folder.iterdir())
    with ws.gradebook() as gb:  # to be graded again: the row as sending leaves it
        (run,) = gb.session.scalars(sa.select(GradingRun)).all()
        run.outcome, run.message, run.score = "queued", "", None
        gb.session.commit()
        job = Job("fleet", "01-numpy", "ada", run.receipt_id, run.grader_version, run.id,
                  ("numpy-basics.ipynb",), "2026-11-01T16:00:00+00:00")
    logs = [live_fleet.tmp / f"{name}.log" for name in ("w1", "w2")]

    def refusals() -> int:  # the worker's own line (Celery's reject line and traceback follow)
        return sum(1 for log in logs for line in log.read_text().splitlines()
                   if "ERROR/" in line and "refused: job 'evil/01-numpy/" in line)

    evil = {**job.to_json(), "course_id": "evil", "course_file": str(handed_in)}
    own = {**job.to_json(), "course_file": str(handed_in)}
    app = live_fleet.app()
    try:
        app.send_task(TASK, args=(evil,), task_id=Job.from_json(evil).id, queue="cpu")
        wait_for(lambda: refusals() >= 1, 120, "a worker to refuse the job of course evil")
        assert [r.outcome for r in runs(ws)] == ["queued"]  # nothing written
        app.send_task(TASK, args=(own,), task_id=job.id, queue="cpu")
        wait_for(lambda: [r.outcome for r in runs(ws)] == ["success"], 120, "ada's grading")
        assert_graded_once(ws, {"ada": 10.0})  # graded here, under the course's own file
        assert refusals() == 1  # rejected once, not delivered again
        assert sorted(p.name for p in folder.iterdir()) == handed  # no gradebook.db there
        assert "gradebook.db" not in handed
        with app.connection_for_read() as conn:
            assert conn.default_channel.queue_declare("cpu", durable=True,
                                                      auto_delete=False).message_count == 0
    finally:
        app.close()


def test_the_formgrader_s_autograde_grades_on_the_fleet(monkeypatch, live_fleet, rabbit,
                                                        postgres_url):
    """The formgrader's Autograde button (hub_config.formgrader.autograde) grades one student
    as `course grade` does: on a course with `backend: celery`, a worker grades it (the
    formgrader itself needs no sandbox), and nbgrader's page gets its success and log."""
    from hub_config.formgrader.autograde import autograde_answer

    ws = make_fleet_course(live_fleet, monkeypatch, postgres_url, rabbit.url,
                           {"ada": answered(), "ben": partial()})
    before = sum(live_fleet.done_by().values())
    answer = autograde_answer(str(ws.course_file), "01-numpy", "ada")
    assert answer["success"], answer
    assert answer["log"].startswith("Successfully autograded ada's 01-numpy: 10 of 10 points")
    assert sum(live_fleet.done_by().values()) == before + 1  # a worker graded it
    assert [(r.student_id, r.outcome, r.score) for r in runs(ws)] == [("ada", "success", 10.0)]
    refused = autograde_answer(str(ws.course_file), "01-numpy", "mallory")
    assert not refused["success"] and "mallory" in refused["error"]

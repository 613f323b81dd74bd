"""``course worker``'s default Celery node name is unique per process (two workers on one
machine used to clash on ``cpu@HOST``: Celery's remote-control queue of a name is exclusive),
a taken ``--name`` is refused in one line naming ``--name``, and a worker finds its course as
every command does when none is given."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from rabbitmq_server import RabbitServer, available
from small_courses import BASE_COURSE, REPO

from commands.fleet import default_worker_name, node_name_taken, worker_courses
from course.locate import CourseFileNotFound

WORKER_START_S = 60
NAME = "from commands.fleet import default_worker_name as d; print(d('cpu', None))"


def test_two_workers_default_names_differ():
    names = [subprocess.run([sys.executable, "-c", NAME], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip() for _ in range(2)]
    host = re.escape(socket.gethostname())
    assert all(re.fullmatch(rf"cpu-\d+@{host}", name) for name in names), names
    assert names[0] != names[1]


def test_the_default_name_says_queue_gpu_process_and_host():
    assert default_worker_name("cpu", None, pid=41, host="node-a") == "cpu-41@node-a"
    assert default_worker_name("gpu", "1", pid=41, host="node-a") == "gpu1-41@node-a"
    assert default_worker_name("gpu", "1", pid=42, host="node-a") != \
        default_worker_name("gpu", "1", pid=41, host="node-a")
    assert default_worker_name("cpu", None).startswith(f"cpu-{os.getpid()}@")


def test_a_worker_s_courses_fall_back_to_the_discovery_rule(tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "course.yml").write_text(textwrap.dedent(BASE_COURSE))
    a, b = tmp_path / "a" / "course.yml", tmp_path / "b" / "course.yml"
    monkeypatch.chdir(tmp_path / "a" / "sub")
    assert worker_courses(["x", "y"], {}) == ["x", "y"]  # --course, as given
    assert worker_courses(None, {"COURSE_WORKER_COURSES": f"{b}{os.pathsep}{a}",
                                 "COURSE_FILE": str(a)}) == [str(b), str(a)]
    assert worker_courses(None, {"COURSE_FILE": str(b)}) == [str(b)]
    assert worker_courses(None, {}) == [str(a)]  # course.yml above the working folder
    if not any((f / "course.yml").exists() for f in (tmp_path, *tmp_path.parents)):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(CourseFileNotFound, match="no course.yml here or in any parent"):
            worker_courses(None, {})


def test_an_unreachable_broker_is_no_clash():
    from course.fleet.app import make_app

    app = make_app("memory://")
    try:
        assert node_name_taken(app, "cpu-1@nowhere") is False
    finally:
        app.close()


# with a real broker

@pytest.fixture(scope="module")
def rabbit():
    with RabbitServer() as server:
        yield server


def _env(broker: str) -> dict[str, str]:
    """No course named by the environment: the worker finds course.yml in its folder."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_DB_URL", "COURSE_FILE", "COURSE_WORKER_COURSES")
           and not k.startswith("PYTEST_")}
    return {**env, "COURSE_BROKER_URL": broker, "PYTHONPATH": str(REPO)}


def _start(course_root, broker, log):
    return subprocess.Popen(
        [sys.executable, "-m", "commands.main", "worker", "--concurrency", "1"],
        cwd=course_root, env=_env(broker), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="rabbitmq-server is not installed "
                    "(scripts/install-system-deps.sh installs it)")
def test_two_default_workers_share_a_machine_and_a_taken_name_is_refused(rabbit, tmp_path):
    from commands.main import main
    from course.fleet.app import make_app

    course = tmp_path / "course"
    assert main(["init", str(course), "--id", "names"]) == 0  # a course.yml, not --course
    logs = [open(tmp_path / f"w{i}.log", "wb") for i in range(2)]  # noqa: SIM115
    workers = [_start(course, rabbit.url, log) for log in logs]
    names = [default_worker_name("cpu", None, pid=w.pid) for w in workers]
    app = make_app(rabbit.url)
    try:
        deadline = time.monotonic() + WORKER_START_S
        replies: dict = {}
        while not set(names) <= set(replies):
            if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                text = "".join((tmp_path / f"w{i}.log").read_text()[-2000:] for i in range(2))
                pytest.fail(f"workers {names} did not both start:\n{text}")
            replies = app.control.inspect(timeout=0.5, destination=names).ping() or {}
        assert node_name_taken(app, names[0]) is True
        assert node_name_taken(app, "cpu-0@nobody") is False
        again = subprocess.run(
            [sys.executable, "-m", "commands.main", "worker", "--name", names[0]],
            cwd=course, env=_env(rabbit.url),
            capture_output=True, text=True, timeout=WORKER_START_S, check=False)
        assert again.returncode == 2, again.stdout + again.stderr
        message = " ".join(again.stderr.split())
        assert f"a worker named {names[0]} is connected to the broker already" in message
        assert "--name" in message
        assert "Traceback" not in again.stderr
    finally:
        app.close()
        _stop(workers)
        for log in logs:
            log.close()
